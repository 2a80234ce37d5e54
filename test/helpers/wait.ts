// A bounded wait for tests: polls a condition (sync or async) until it holds,
// and fails the test after `ms` instead of hanging. Not a timing assertion:
// the bound only keeps a broken test from running forever.
export async function until (condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
