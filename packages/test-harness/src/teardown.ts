/**
 * The part of a tap `Test` the harness needs: somewhere to register cleanup right next to creation.
 * Kept structural so the harness does not depend on tap's types.
 */
export interface TeardownHost {
  teardown (fn: () => unknown): void
}
