import { GroupRetiredError, type RetireReport, type Streamfan, type Topic } from '../src';

type SubscribeOptions = Parameters<Streamfan['subscribe']>[3];

/**
 * Subscribe to a retired group: `ready()` rejects with {@link GroupRetiredError}, the
 * subscription reports that one error and closes.
 */
export async function expectSubscribeRefused<T>(sf: Streamfan, topic: Topic<T> | string, group: string, options: SubscribeOptions = {}): Promise<void> {
  const again = sf.subscribe(topic, group, () => undefined, options);
  const errors: Error[] = [];
  again.on('error', (e) => errors.push(e));
  const closed = new Promise((r) => again.once('closed', r));
  await expect(again.ready()).rejects.toBeInstanceOf(GroupRetiredError);
  await closed;
  expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
}

/** Retire a retired group again: `alreadyRetired`, nothing held, the first retirement's time kept. */
export async function expectRetiredAgain<T>(sf: Streamfan, topic: Topic<T> | string, group: string, first: RetireReport): Promise<void> {
  const again = await sf.retireGroup(topic, group);
  expect(again).toMatchObject({ alreadyRetired: true, consumers: 0, pending: 0 });
  expect(again.retiredAt.getTime()).toBe(first.retiredAt.getTime());
}
