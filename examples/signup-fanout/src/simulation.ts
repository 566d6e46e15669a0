import type { HandlerContext } from '@streamfan/core';
import type { GroupName, Signup, SignupKind } from './config';

const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia', 'Tim'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra', 'Perlman', 'Berners-Lee'];
const COUNTRIES = ['FR', 'DE', 'US', 'JP', 'BR', 'IN', 'NG', 'SE', 'CA', 'AU'];

/** A plausible signup of the given kind; `seq` makes the id and e-mail unique. */
export function fakeSignup(seq: number, plan: SignupKind): Signup {
  const first = FIRST[seq % FIRST.length]!;
  const last = LAST[Math.floor(seq / FIRST.length) % LAST.length]!;
  return {
    signupId: `u-${String(seq).padStart(6, '0')}`,
    name: `${first} ${last}`,
    email: `${first}.${last}${seq}@example.com`.toLowerCase(),
    plan,
    country: COUNTRIES[seq % COUNTRIES.length]!,
  };
}

const PRICES: Record<SignupKind, number> = { free: 0, pro: 1900, team: 4900, 'card-declined': 1900 };

/** A simulated failure, as a service outage would throw it. */
export class SimulatedFailure extends Error {
  constructor(group: GroupName, attempt: number) {
    super(`${group}: upstream timed out (simulated failure, attempt ${attempt})`);
    this.name = 'SimulatedFailure';
  }
}

/**
 * What each service does once the simulated work is over. Billing dead-letters a declined
 * card at once (retrying would not help): `ctx.deadLetter` skips the remaining attempts.
 */
export function businessResult(group: GroupName, s: Signup, ctx: HandlerContext): unknown {
  switch (group) {
    case 'email':
      return { sent: `welcome-${s.plan === 'card-declined' ? 'pro' : s.plan}`, to: s.email };
    case 'billing':
      if (s.plan === 'card-declined') ctx.deadLetter(`card declined by the issuer for ${s.signupId}: a person must fix the card, retrying will not help`);
      if (s.plan === 'free') return { skipped: 'free plan: nothing to invoice' };
      return { invoice: `inv-${s.signupId.slice(2)}`, amountCents: PRICES[s.plan] };
    case 'analytics':
      return { counted: `signup.${s.plan}`, country: s.country };
  }
}

/** Sleep `ms` with ±20 % jitter; rejects when `signal` aborts (graceful stop ran out of time). */
export function work(ms: number, signal: AbortSignal): Promise<void> {
  const wait = Math.max(0, Math.round(ms * (0.8 + Math.random() * 0.4)));
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason as Error); return; }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, wait);
    const onAbort = (): void => { clearTimeout(timer); reject(signal.reason as Error); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A promise that never settles: what a frozen worker's handler looks like from outside. */
export function never(): Promise<never> {
  return new Promise<never>(() => undefined);
}
