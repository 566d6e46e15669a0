// A worker pool for one service. Each GROUP gets every order; workers of one group share them.
//   GROUP=shipping pnpm --filter @streamfan/example-order-pipeline worker
import { Streamfan } from '@streamfan/core';
import { orders, prefix } from './orders';

const group = process.env.GROUP ?? 'shipping';
const sf = new Streamfan({ prefix });
const sub = sf.subscribe(orders, group, async (order, ctx) => {
  if (order.quantity <= 0) ctx.deadLetter(`quantity must be positive, got ${order.quantity}`);
  await new Promise((r) => setTimeout(r, 100)); // the real work: book the carrier, send the invoice...
  console.log(`[${group}] ${order.orderId}: ${order.quantity} × ${order.sku} (attempt ${ctx.attempt})`);
  return { handledBy: ctx.consumer };
}, { concurrency: 4, maxAttempts: 3, startFrom: 'beginning' });

sub.on('ready', ({ consumer }) => console.log(`[${group}] ${consumer} is waiting for orders`));
sub.on('deadLettered', ({ id, error }) => console.log(`[${group}] ${id} dead-lettered: ${error}`));
sub.on('error', (err) => console.error(`[${group}] ${err.message}`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void sf.close().then(() => process.exit(0))); // running handlers finish first
}
