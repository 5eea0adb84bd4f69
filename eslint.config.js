import neostandard from 'neostandard'

// Pure cores (DESIGN.md principle 2): no Fastify, no undici, no sockets. They get time and randomness injected.
const pureBans = {
  paths: ['fastify', 'fastify-plugin', '@fastify/http-proxy', '@fastify/reply-from', 'undici', 'ioredis',
    'node:net', 'node:http', 'node:https', 'net', 'http', 'https'],
  patterns: ['fastify', '@fastify/*']
}
const restrict = {
  'no-restricted-imports': ['error', {
    paths: pureBans.paths.map((name) => ({ name, message: 'pure modules import no Fastify, HTTP or network code (DESIGN.md)' })),
    patterns: [{ group: pureBans.patterns, message: 'pure modules import no Fastify code (DESIGN.md)' }]
  }]
}

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.tshy/**', '**/.tshy-build/**', '.tools/**', '**/.tap/**', 'test-output/**'] },
  ...neostandard({ ts: true }),
  {
    files: [
      'packages/balancer/src/pickers/**', 'packages/balancer/src/upstream/**',
      'packages/balancer/src/health-check/state-machine.ts', 'packages/balancer/src/outlier/**',
      'packages/balancer/src/retry/**', 'packages/balancer/src/util/**',
      'packages/balancer/src/discovery/diff.ts', 'packages/balancer/src/discovery/registry-state.ts',
      'packages/balancer/src/status/rolling-window.ts',
      'packages/health/src/report/**', 'packages/session-redis/src/ttl.ts'
    ],
    rules: restrict
  }
]
