/**
 * Memory checks against thresholds in bytes: V8 heap used and resident set size, as under-pressure's
 * `maxHeapUsedBytes` / `maxRssBytes`.
 */
import type { HealthCheckFunction } from '../types.js'
import { judge, validateThresholds, type Thresholds } from './threshold.js'

export function heapCheck (options: Thresholds = {}): HealthCheckFunction {
  const thresholds = validateThresholds(options, 'heapCheck', 'bytes')
  return function heapUsed () {
    return judge(process.memoryUsage().heapUsed, 'bytes', 'system', thresholds)
  }
}

export function rssCheck (options: Thresholds = {}): HealthCheckFunction {
  const thresholds = validateThresholds(options, 'rssCheck', 'bytes')
  return function residentSetSize () {
    return judge(process.memoryUsage.rss(), 'bytes', 'system', thresholds)
  }
}
