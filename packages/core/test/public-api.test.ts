import * as api from '../src';
import * as errors from '../src/errors';
import * as internal from '../src/internal';

// The package's main entry exports what the README teaches and the types a user names; the
// CLI, examples and tests take helpers from '@streamfan/core/internal'.
describe('public API', () => {
  test('exports the documented values and no internals', () => {
    expect(Object.keys(api).sort()).toEqual([
      'ClosedError', 'DEFAULT_MAX_PAYLOAD_BYTES', 'DELAYED_ID_PREFIX', 'DeadLetterError', 'InvalidIdError', 'InvalidNameError',
      'InvalidOptionError', 'InvalidPayloadError', 'MAX_BATCH_BYTES', 'MAX_BATCH_EVENTS', 'NotFoundError', 'NotPendingError',
      'PayloadTooLargeError', 'ProtocolVersionError', 'RedisCommandError', 'RedisOutOfMemoryError', 'RedisUnavailableError', 'Streamfan',
      'StreamfanError', 'UnsupportedServerError', 'WaitTimeoutError', 'GroupRetiredError', 'defineTopic', 'jsonCodec',
      'PartitionCountMismatchError', 'InvalidPartitionedIdError', 'PartialPublishError', 'PartitionedTopicNotSupportedError',
      'LaneMismatchError', 'UnknownLaneError', 'InvalidLaneIdError', 'LaneOrderingError',
    ].sort());
    for (const name of ['topicKeys', 'FIELD', 'resolveSubscribeOptions', 'Subscription', 'showEvent', 'claimEntries', 'fromRedisError', 'requireTopic']) {
      expect(api).not.toHaveProperty(name);
      expect(internal).toHaveProperty(name === 'Subscription' ? 'SubscriptionClass' : name);
    }
  });

  test('every error class is public (a new one cannot be forgotten in index.ts)', () => {
    const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && (v === errors.StreamfanError || v.prototype instanceof errors.StreamfanError));
    expect(classes.length).toBeGreaterThan(10);
    for (const [name] of classes) expect(api).toHaveProperty(name);
  });

  test('one admin style: every operation is a method of Streamfan', () => {
    const methods = Object.getOwnPropertyNames(api.Streamfan.prototype);
    for (const m of ['publish', 'publishMany', 'subscribe', 'status', 'waitFor', 'delayed', 'deadLetters', 'trim', 'pruneConsumers',
      'topics', 'groups', 'consumers', 'pending', 'pendingPage', 'show', 'claim', 'ack', 'tail', 'retireGroup', 'unretireGroup', 'close']) {
      expect(methods).toContain(m);
    }
  });
});
