/**
 * Child process of telemetry-tracing.test.ts: one group of the fan-out in another process, with
 * its own OpenTelemetry SDK. Args: redis url, prefix, topic, group, parent ('1' parents consumer
 * spans by the publish). Prints `ready` once subscribed, then, after handling one event, every
 * span it finished as one JSON line, and exits.
 */
import { trace } from '@opentelemetry/api';
import { Streamfan, defineTopic } from '../src';
import { registerTracing } from './telemetry-helpers';

const [url, prefix, topicName, group, parent] = process.argv.slice(2);
const tracing = registerTracing();
const sf = new Streamfan({ connection: url!, prefix: prefix!, retention: false, telemetry: { parentConsumerSpans: parent === '1' } });
const topic = defineTopic<{ n: number }>(topicName!);
const sub = sf.subscribe(topic, group!, async (p) => {
  // The handler's own span nests under the delivery span.
  await trace.getTracer('child-app').startActiveSpan('child work', async (span) => { span.end(); });
  return { child: p.n };
}, { startFrom: 'beginning' });
sub.on('processed', () => {
  // The delivery span ends right after this event's listeners ran: report on the next turn.
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify(tracing.spans())}\n`);
    void sf.close().then(() => process.exit(0));
  }, 50);
});
void sub.ready().then(() => process.stdout.write('ready\n'));
