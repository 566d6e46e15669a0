import type EventEmitter from 'eventemitter3';
import type { Logger, SubscriptionEvents } from './options';
import type { Subscription } from './subscription';

/**
 * Hand an error to `to`'s `error` listeners, or, with none, to the logger: an error is never
 * silent (a logger that throws must not break the consumer).
 * @internal
 */
export function emitOrLog(to: EventEmitter<SubscriptionEvents>, logger: Logger, err: Error, text: string): void {
  if (to.listenerCount('error') > 0) {
    to.emit('error', err);
    return;
  }
  try {
    logger.error(text, err);
  } catch {
    /* a logger that throws must not break the consumer */
  }
}

/**
 * Re-emit the events of one stream's {@link Subscription} (a partition's, a lane's) on the
 * subscription that composes them, with public ids (`id`) and `where` (e.g. `partition 3`,
 * `lane high`) in reasons and connection names. Errors go to `onError`.
 * @internal
 */
export function forwardSubscriptionEvents<T>(
  sub: Subscription<T>,
  to: EventEmitter<SubscriptionEvents>,
  where: string,
  id: (local: string) => string,
  onError: (err: Error) => void,
): void {
  sub.on('processed', (e) => to.emit('processed', { ...e, id: id(e.id) }));
  sub.on('failed', (e) => to.emit('failed', { ...e, id: id(e.id) }));
  sub.on('deadLettered', (e) => to.emit('deadLettered', { ...e, id: id(e.id) }));
  sub.on('reclaimed', (e) => to.emit('reclaimed', { ...e, ids: e.ids.map(id) }));
  sub.on('lost', (e) => to.emit('lost', { ...e, ids: e.ids.map(id) }));
  sub.on('leaseLost', (e) => to.emit('leaseLost', { id: id(e.id) }));
  sub.on('stale', (e) => to.emit('stale', { ids: e.ids.map(id) }));
  sub.on('skipped', (e) => to.emit('skipped', { ids: e.ids.map(id) }));
  sub.on('recovered', (e) => to.emit('recovered', { ...e, reason: `${where}: ${e.reason}` }));
  sub.on('disconnected', (e) => to.emit('disconnected', { connection: `${e.connection} (${where})` }));
  sub.on('reconnected', (e) => to.emit('reconnected', { connection: `${e.connection} (${where})` }));
  sub.on('pruned', (e) => to.emit('pruned', e));
  sub.on('error', onError);
}
