import { Connection } from "@temporalio/client";

/**
 * Whether the clocks worker of process `pid` polls its task queue: Temporal lists each poller
 * with the SDK's default identity "<pid>@<host>", so a worker started again shows up under its
 * new pid (the old one's entry may linger; it does not count). Answers false after `timeoutMs`.
 */
export async function workerPolls(
  address: string,
  taskQueue: string,
  pid: number | undefined,
  timeoutMs: number,
): Promise<boolean> {
  if (pid === undefined) return false;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const polling = await Connection.connect({ address, connectTimeout: 1000 })
      .then(
        async (c) => {
          try {
            const r = await c.workflowService.describeTaskQueue({
              namespace: "default",
              taskQueue: { name: taskQueue },
            });
            return r.pollers.some((p) => (p.identity ?? "").startsWith(`${pid}@`));
          } finally {
            await c.close();
          }
        },
        () => false,
      )
      .catch(() => false);
    if (polling) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
