import { waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { useRedis } from './helpers';

const env = useRedis();

describe("startFrom: 'latest'", () => {
  test('an event published right after subscribe() (not awaiting ready) is delivered; one published before is not', async () => {
    const sf = env.client();
    for (let i = 0; i < 5; i++) {
      const topic = defineTopic<string>(`latest-${i}`);
      const before = await sf.publish(topic, 'before'); // the stream exists, with history
      const seen: string[] = [];
      const sub = sf.subscribe(topic, 'g', (p) => { seen.push(p); });
      const after = await sf.publish(topic, 'after');
      await waitFor(async () => (await sf.status(topic, after)).groups.g?.state === 'succeeded', { message: `round ${i}: the event published after subscribe() succeeded` });
      expect(seen).toEqual(['after']);
      expect((await sf.status(topic, before)).groups.g?.state).not.toBe('succeeded');
      await sub.close();
    }
  });

  test('on a topic with no stream yet, the first event published after subscribe() is delivered', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('fresh');
    const seen: string[] = [];
    const sub = sf.subscribe(topic, 'g', (p) => { seen.push(p); });
    const id = await sf.publish(topic, 'first');
    await waitFor(() => seen.length === 1, { message: 'first event handled' });
    expect(seen).toEqual(['first']);
    expect((await sf.status(topic, id)).groups.g?.state).toBe('succeeded');
    await sub.close();
  });

  test('an existing group keeps its position', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('kept');
    const first = sf.subscribe(topic, 'g', () => undefined, { consumer: 'one' });
    await first.ready();
    await first.close();
    await sf.publish(topic, 'while nobody ran');
    const seen: string[] = [];
    const sub = sf.subscribe(topic, 'g', (p) => { seen.push(p); }, { consumer: 'two' });
    await waitFor(() => seen.length === 1, { message: 'backlog of the existing group handled' });
    expect(seen).toEqual(['while nobody ran']);
    await sub.close();
  });

  test('another process publishing right after subscribe() was called (the subscriber\'s connection not even up yet): the event is delivered', async () => {
    const publisher = env.client();
    for (let i = 0; i < 5; i++) {
      const topic = defineTopic<string>(`other-${i}`);
      await publisher.publish(topic, 'before'); // the stream exists, with history
      const fresh = env.client({ prefix: publisher.prefix }); // a new client: its connection is still connecting
      const seen: string[] = [];
      const sub = fresh.subscribe(topic, 'g', (p) => { seen.push(p); });
      const after = await publisher.publish(topic, 'after');
      await waitFor(async () => (await publisher.status(topic, after)).groups.g?.state === 'succeeded', { message: `round ${i}: the event published after subscribe() succeeded` });
      expect(seen).toContain('after');
      await sub.close();
    }
  });
});
