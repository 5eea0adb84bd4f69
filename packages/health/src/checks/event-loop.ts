/**
 * Event-loop checks, as in @fastify/under-pressure: delay (a percentile of `monitorEventLoopDelay`) and
 * utilization (`performance.eventLoopUtilization`).
 *
 * The delay monitors are a resource: enabled by `start()` (the plugin's `onReady`), disabled by `stop()`
 * (`onClose`). A check object shared by several apps keeps them enabled until the last one stops.
 *
 * Why two monitors: `histogram.reset()` also forgets the monitor's last tick, so the interval in progress at a
 * reset is never recorded. A check runs in JavaScript, i.e. right after whatever blocked the loop and before
 * the monitor's timer has fired again; resetting there would drop exactly the stall a probe arrives during.
 * So two monitors are reset alternately, one `window` apart, and the reading comes from the older one: every
 * interval is recorded by at least one of them, and a reading covers the last `window` to 2 × `window` ms.
 * (The one gap: a stall longer than `window` that begins in the same JavaScript turn as a reading.)
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks'
import { InvalidOptionError } from '../errors.js'
import type { HealthCheckFunction } from '../types.js'
import { judge, positiveNumber, round2, validateThresholds, type Thresholds } from './threshold.js'

export interface EventLoopDelayCheckOptions extends Thresholds {
  /** Which percentile to report. Default 99. */
  percentile?: number
  /** Sampling resolution of the monitor (ms). Default 10 (under-pressure's value). */
  resolution?: number
  /** Readings cover the last `window` to 2 × `window` ms. Default 5000. */
  window?: number
}

export function eventLoopDelayCheck (options: EventLoopDelayCheckOptions = {}): HealthCheckFunction {
  const thresholds = validateThresholds(options, 'eventLoopDelayCheck', 'milliseconds')
  const percentile = positiveNumber(options.percentile, 'eventLoopDelayCheck({ percentile })', '') ?? 99
  const resolution = positiveNumber(options.resolution, 'eventLoopDelayCheck({ resolution })', 'milliseconds') ?? 10
  const window = positiveNumber(options.window, 'eventLoopDelayCheck({ window })', 'milliseconds') ?? 5000
  if (percentile > 100) throw new InvalidOptionError('eventLoopDelayCheck({ percentile }) must be at most 100')
  let monitors: [IntervalHistogram, IntervalHistogram] | null = null
  let older: 0 | 1 = 0
  let newerSince = 0
  let users = 0

  const check: HealthCheckFunction = function eventLoopDelay () {
    if (monitors === null) return { status: 'warn', componentType: 'system', output: 'event-loop monitor not started (the plugin calls start())' }
    const now = performance.now()
    if (now - newerSince >= window) {
      monitors[older].reset()
      older = older === 0 ? 1 : 0
      newerSince = now
    }
    const histogram = monitors[older]
    // The monitor's timer fires every `resolution` ms and records its whole interval; subtract the resolution
    // to get the delay, as under-pressure does (an idle loop then reads ~0 ms, not ~10 ms).
    const delay = histogram.count === 0 ? 0 : Math.max(0, histogram.percentile(percentile) / 1e6 - resolution)
    return judge(round2(delay), 'ms', 'system', thresholds)
  }
  check.start = () => {
    users++
    if (monitors !== null) return
    monitors = [monitorEventLoopDelay({ resolution }), monitorEventLoopDelay({ resolution })]
    monitors[0].enable()
    monitors[1].enable()
    older = 0
    newerSince = performance.now()
  }
  check.stop = () => {
    if (users > 0) users--
    if (users > 0 || monitors === null) return
    monitors[0].disable()
    monitors[1].disable()
    monitors = null
  }
  return check
}

export interface EventLoopUtilizationCheckOptions extends Thresholds {}

/** Utilization in percent (0–100) of the window since the previous run; thresholds in percent too. */
export function eventLoopUtilizationCheck (options: EventLoopUtilizationCheckOptions = {}): HealthCheckFunction {
  const thresholds = validateThresholds(options, 'eventLoopUtilizationCheck', 'percent', 100)
  let last: EventLoopUtilization | null = null
  const check: HealthCheckFunction = function eventLoopUtilization () {
    const now = performance.eventLoopUtilization()
    const window = last === null ? now : performance.eventLoopUtilization(now, last)
    last = now
    return judge(round2(window.utilization * 100), 'percent', 'system', thresholds)
  }
  check.start = () => { last = performance.eventLoopUtilization() }
  check.stop = () => { last = null }
  return check
}
