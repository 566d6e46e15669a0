import { defineTopic } from '@streamfan/core';

/** What one signup event carries. */
export interface Signup {
  /** The demo's own sequence id, so a delayed event can be followed after it enters the stream. */
  signupId: string;
  name: string;
  email: string;
  plan: SignupKind;
  country: string;
}

/** Kinds of signup the page can publish. `card-declined` is dead-lettered by billing at once. */
export const SIGNUP_KINDS = ['free', 'pro', 'team', 'card-declined'] as const;
export type SignupKind = (typeof SIGNUP_KINDS)[number];

/** Priority lanes of `user.signup`, highest first (docs/priorities.md); a publish without one goes to `normal`. */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const DEFAULT_PRIORITY: Priority = 'normal';

/** The topic every signup is published to, once, in one of its lanes. */
export const signups = defineTopic<Signup>('user.signup', { priorities: [...PRIORITIES], defaultPriority: DEFAULT_PRIORITY });

/** The three services: each is a consumer group with its own worker pool. */
export const GROUPS = ['email', 'billing', 'analytics'] as const;
export type GroupName = (typeof GROUPS)[number];

/** One line shown under each group's name. */
export const GROUP_DESCRIPTIONS: Record<GroupName, string> = {
  email: 'sends the welcome email',
  billing: 'invoices paid plans',
  analytics: 'counts signups by plan and country',
};

/** Knobs of one group's worker pool, changed live from the page. */
export interface GroupSettings {
  /** Workers (consumers) in the group, 0..16; each runs one handler at a time. */
  workers: number;
  /** Time one handler takes, in ms (±20 % jitter). */
  latencyMs: number;
  /** Chance (0..1) that a handler throws: the event is retried with backoff. */
  failureRate: number;
  /** Chance (0..1) that a worker freezes mid-handler (crash): its entry is reclaimed after the visibility timeout. */
  hangRate: number;
  /** Attempts per event before it goes to dead letters (reclaims count). */
  maxAttempts: number;
  /** False when the group is stopped: no workers run, lag grows. */
  running: boolean;
}

/** Limits the API enforces on every knob. */
export const LIMITS = {
  workers: { min: 0, max: 16 },
  latencyMs: { min: 0, max: 10_000 },
  failureRate: { min: 0, max: 1 },
  hangRate: { min: 0, max: 1 },
  maxAttempts: { min: 1, max: 20 },
  publishCount: { min: 1, max: 500 },
  delaySeconds: { min: 0, max: 3600 },
  crashNext: { min: 1, max: 100 },
} as const;

/** Where each group starts: different speeds so the cards do not move in lockstep. */
export const DEFAULT_SETTINGS: Record<GroupName, GroupSettings> = {
  email: { workers: 3, latencyMs: 150, failureRate: 0, hangRate: 0, maxAttempts: 5, running: true },
  billing: { workers: 2, latencyMs: 250, failureRate: 0, hangRate: 0, maxAttempts: 5, running: true },
  analytics: { workers: 4, latencyMs: 60, failureRate: 0, hangRate: 0, maxAttempts: 5, running: true },
};

/** Short so a crashed worker's entry is visibly reclaimed within seconds (the library default is 30 s). */
export const DEMO_VISIBILITY_TIMEOUT_MS = 3000;

/** Retry quickly in the demo: 250 ms, doubling, at most 4 s. */
export const DEMO_BACKOFF = { type: 'exponential', baseMs: 250, factor: 2, maxMs: 4000, jitter: 0.2 } as const;

export function isGroupName(name: string): name is GroupName {
  return (GROUPS as readonly string[]).includes(name);
}

export function isPriority(p: unknown): p is Priority {
  return typeof p === 'string' && (PRIORITIES as readonly string[]).includes(p);
}

export function isSignupKind(kind: unknown): kind is SignupKind {
  return typeof kind === 'string' && (SIGNUP_KINDS as readonly string[]).includes(kind);
}
