// Time sources. The wall clock is `Date.now` itself, passed in as a `Clock`
// so tests can move time without sleeping; no wrapper sits on the request path.

/** Milliseconds since the epoch: `Date.now` in production, a test's own clock in tests. */
export type Clock = () => number

/**
 * Milliseconds for timing fetches, cooldowns and cache ages: monotonic (a wall
 * clock stepping backwards must not stretch a backoff), epoch-based for reports.
 */
export const monotonicNowMs = (): number => performance.timeOrigin + performance.now()
