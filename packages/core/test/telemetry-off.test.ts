import { context, metrics, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { defineTopic, InvalidOptionError, Streamfan } from '../src';
import { Telemetry } from '../src/telemetry/telemetry';
import { ConsumerTelemetry } from '../src/telemetry/consumer';
import { useRedis } from './helpers';

const env = useRedis();

describe('telemetry with nothing registered', () => {
  test('no tracer and no instruments: events carry no trace headers, handlers run as they are', async () => {
    const tel = new Telemetry();
    expect(tel.tracer()).toBeUndefined();
    expect(tel.instruments()).toBeUndefined();
    expect(tel.off()).toBe(true);
    const sf = env.client();
    const topic = defineTopic<number>('quiet');
    let headers: Readonly<Record<string, string>> | undefined;
    const sub = sf.subscribe(topic, 'g', async (_p, ctx) => { headers = ctx.headers; }, { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, 1, { headers: { a: 'b' } });
    await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(headers).toEqual({ a: 'b' });
    expect((await sf.show(topic, id)).headers).toEqual({ a: 'b' });
  });

  test('the wrapped handler is a plain call: same value back, same exception, nothing kept', () => {
    const c = new ConsumerTelemetry(new Telemetry(), 't', 'g');
    const value = { v: 1 };
    const ctx = { id: '1-0', attempt: 1, headers: {} } as never;
    expect(c.wrap(() => value)(0, ctx)).toBe(value);
    const p = Promise.resolve(2);
    expect(c.wrap(() => p)(0, ctx)).toBe(p); // not even re-wrapped in a promise
    const boom = new Error('boom');
    expect(() => c.wrap(() => { throw boom; })(0, ctx)).toThrow(boom);
    expect((c as unknown as { open: Map<string, unknown> }).open.size).toBe(0);
    const self = {};
    expect(c.wrap(function (this: unknown) { return this; }).call(self, 0, ctx)).toBe(self); // the consumer's `this`, as before
  });

  test('a provider registered later is picked up, and dropped again when unregistered', () => {
    const tel = new Telemetry();
    expect(tel.tracer()).toBeUndefined();
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    metrics.setGlobalMeterProvider(new MeterProvider());
    try {
      expect(tel.tracer()).toBeDefined();
      expect(tel.instruments()).toBeDefined();
    } finally {
      trace.disable();
      metrics.disable();
      context.disable();
    }
    expect(tel.tracer()).toBeUndefined();
    expect(tel.instruments()).toBeUndefined();
  });

  test('bad telemetry options are refused with InvalidOptionError', () => {
    expect(() => new Streamfan({ telemetry: 'on' as never })).toThrow(InvalidOptionError);
    expect(() => new Streamfan({ telemetry: { tracer: {} } as never })).toThrow(/unknown telemetry option "tracer"/);
    expect(() => new Streamfan({ telemetry: { tracerProvider: {} as never } })).toThrow(/tracerProvider must be an OpenTelemetry TracerProvider/);
    expect(() => new Streamfan({ telemetry: { meterProvider: 1 as never } })).toThrow(/meterProvider must be/);
    expect(() => new Streamfan({ telemetry: { parentConsumerSpans: 'yes' as never } })).toThrow(/parentConsumerSpans must be true or false/);
    expect(() => new Streamfan({ telemetry: { unsampledContext: 1 as never } })).toThrow(/unsampledContext must be true or false/);
  });
});
