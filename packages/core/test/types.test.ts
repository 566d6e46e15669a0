import { expectTypeOf } from 'expect-type';
import { defineTopic, type EventStatus, type HandlerContext, type PayloadOf, type Streamfan, type Subscription } from '../src';

// Type tests: `pnpm typecheck` compiles this file; each `@ts-expect-error` line must be an error,
// or the check fails. At run time nothing here touches Redis (the functions are never called).

type A = { a: number };
const topic = defineTopic<A>('typed');
declare const sf: Streamfan;
declare const cond: boolean;

function compileOnly(): void {
  // The payload type comes from the topic only: a payload cannot widen it.
  void sf.publish(topic, { a: 1 });
  // @ts-expect-error a string where the topic says number
  void sf.publish(topic, { a: 'x' });
  // @ts-expect-error a union of a good and a bad payload must not widen T to the union
  void sf.publish(topic, cond ? { a: 1 } : { a: 'x' });
  void sf.publishMany(topic, [{ a: 1 }, { a: 2 }]);
  // @ts-expect-error one bad element in the batch
  void sf.publishMany(topic, [{ a: 1 }, { a: 'y' }]);
  // @ts-expect-error a missing field
  void sf.publish(topic, {});

  // Untyped topics (a bare name) take any JSON payload.
  void sf.publish('untyped', { anything: [1, 'two'] });
  void sf.publishMany('untyped', [{ a: 1 }, { b: 'c' }]);

  // Handlers see the topic's payload type.
  const sub = sf.subscribe(topic, 'g', (payload, ctx) => {
    expectTypeOf(payload).toEqualTypeOf<A>();
    expectTypeOf(ctx).toMatchTypeOf<HandlerContext>();
    return payload.a;
  });
  expectTypeOf(sub).toMatchTypeOf<Subscription<A>>();
  // @ts-expect-error the handler's parameter cannot claim another payload type
  sf.subscribe(topic, 'g', (payload: { b: string }) => payload.b);

  expectTypeOf(sf.publish(topic, { a: 1 })).resolves.toEqualTypeOf<string>();
  expectTypeOf(sf.publishMany(topic, [{ a: 1 }])).resolves.toEqualTypeOf<string[]>();
  expectTypeOf(sf.status(topic, '1-0')).resolves.toEqualTypeOf<EventStatus>();
  expectTypeOf<PayloadOf<typeof topic>>().toEqualTypeOf<A>();
}

test('type tests compile (checked by pnpm typecheck)', () => {
  expect(typeof compileOnly).toBe('function');
});
