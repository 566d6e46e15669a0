/**
 * The streamfan operations dashboard: every topic, group, pending entry, retry, dead letter and
 * an event's fate in every group, in the browser. Mount {@link createDashboard} in a Node HTTP
 * server, Express or Fastify, or run {@link startDashboard} (`streamfan dashboard`).
 * @packageDocumentation
 */
export { createDashboard, type DashboardOptions, type DashboardHandler } from './dashboard';
export { startDashboard, type StartOptions, type RunningDashboard } from './server';
export { isLoopbackHost, CSRF_HEADER, TOKEN_COOKIE } from './security';
