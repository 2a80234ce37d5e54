// The only place that reads the wall clock. Everything time-dependent takes a
// `Clock`, so tests can move time without sleeping.
export type Clock = () => number

/** Current time in whole seconds since the epoch (NumericDate, RFC 7519 §2). */
export const systemClock: Clock = () => Math.floor(Date.now() / 1000)

/**
 * Milliseconds for timing fetches, cooldowns and cache ages: monotonic (a wall
 * clock stepping backwards must not stretch a backoff), epoch-based for reports.
 */
export const monotonicNowMs = (): number => performance.timeOrigin + performance.now()
