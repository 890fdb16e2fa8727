/**
 * A demo process ends when the demo that started it is gone, however it went (SIGKILL, a crash, a
 * test's timeout), instead of running on as an orphan.
 */

/**
 * Exits this process (code 1) as soon as the IPC channel to its parent closes. The demo's
 * supervisor starts every service with such a channel and never sends on it; the operating system
 * closes it when the supervisor's process ends for any reason, including SIGKILL, which no signal
 * handler in the parent could cover. No clean stop is attempted: the process is left as a SIGKILL
 * leaves it, which every service survives. Without a channel (a service started by hand) this
 * does nothing.
 *
 * @example
 * exitWithParent(); // first thing in a service's main script
 */
export function exitWithParent(): void {
  const channel = process.channel;
  if (channel === undefined) return;
  // The channel must not keep the process alive on its own; its servers and loops decide that.
  channel.unref();
  const exit = () => process.exit(1);
  process.once('disconnect', exit);
  // The parent may have died while the modules loaded, before anyone listened for 'disconnect'.
  if (!process.connected) exit();
}
