import { defineTopic } from '@streamfan/core';

/** One order, as the shop publishes it. Both processes import this, so the payload is typed. */
export interface Order { orderId: string; sku: string; quantity: number }

export const orders = defineTopic<Order>('shop.order');
/** Keys of this example live under this prefix; Redis is REDIS_URL (default redis://127.0.0.1:6379). */
export const prefix = 'orders-example';
