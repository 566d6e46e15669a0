// Publish orders, then wait (Pub/Sub, no polling) until every group has finished each one.
//   pnpm --filter @streamfan/example-order-pipeline place-orders [count]
import { Streamfan } from '@streamfan/core';
import { orders, prefix } from './orders';

async function main(count: number): Promise<void> {
  const sf = new Streamfan({ prefix });
  try {
    for (let i = 1; i <= count; i++) {
      const order = { orderId: `o-${Date.now()}-${i}`, sku: i % 2 ? 'mug' : 'tee', quantity: i < 4 ? i : 0 };
      const id = await sf.publish(orders, order, { idempotencyKey: order.orderId });
      const status = await sf.waitFor(orders, id, { timeoutMs: 15_000 });
      console.log(`${order.orderId} (${id}): ${Object.entries(status.groups).map(([g, s]) => `${g} ${s.state}`).join(', ') || 'no group yet'}`);
    }
  } finally {
    await sf.close();
  }
}

main(Number(process.argv[2] ?? 3)).catch((err: Error) => { console.error(err.message); process.exit(1); });
