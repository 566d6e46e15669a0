/**
 * The bench imports streamfan and the test helpers from source, so `pnpm bench` needs no
 * build step from a fresh clone (tsx compiles on the fly).
 */
export { Streamfan, defineTopic, type Subscription, type SubscribeOptions } from '../../packages/core/src';
export { startRedis, type RedisServer } from '../../packages/testing/src';
export { loadScripts, runScript } from '../../packages/core/src/scripts/runner';
export { buildAck } from '../../packages/core/src/consumer/ack-batcher';
export { LazyAbort } from '../../packages/core/src/consumer/in-flight';
export { topicKeys } from '../../packages/core/src/keys';
