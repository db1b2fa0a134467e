// Stops the portal started by global-setup.ts (SIGTERM: it finishes requests in flight).
export default async function globalTeardown() {
  const pid = Number(process.env.CUPULA_E2E_PID);
  if (pid) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
