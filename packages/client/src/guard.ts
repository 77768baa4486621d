/**
 * Runs a caller's callback (onChange, onRejected, onDrop): what it throws is the caller's bug
 * and must not break the SDK's bookkeeping, its stream or its timers. The outcome it was told
 * of is already counted in the stats.
 */
export function safely(f: () => void): void {
  try {
    f();
  } catch {
    // Deliberately swallowed: see above.
  }
}
