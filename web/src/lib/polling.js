// Periodic refresh for components: runs a task now and then every
// `intervalMs`, one run at a time, and pauses while the page is hidden.
//
// Runs never overlap, so a response for an old filter can never overwrite
// the response for a newer one: a refresh requested during a run starts
// again right after it.
import { onBeforeUnmount, onMounted } from 'vue';

export function usePolling(task, intervalMs) {
  let timer = null;
  let running = false;
  let rerun = false;
  let stopped = false;

  function schedule() {
    if (timer !== null) {
      window.clearTimeout(timer);
    }
    timer = stopped ? null : window.setTimeout(() => run(false), intervalMs);
  }

  async function run(requested) {
    if (stopped) {
      return;
    }
    if (running) {
      rerun = true;
      return;
    }
    if (!requested && document.hidden) {
      schedule();
      return;
    }
    running = true;
    try {
      do {
        rerun = false;
        try {
          await task();
        } catch (error) {
          // Tasks show their own errors; this only keeps the schedule alive.
          console.error('refresh failed', error);
        }
      } while (rerun && !stopped);
    } finally {
      running = false;
      schedule();
    }
  }

  function onVisibilityChange() {
    if (!document.hidden) {
      run(true);
    }
  }

  onMounted(() => {
    document.addEventListener('visibilitychange', onVisibilityChange);
    run(true);
  });

  onBeforeUnmount(() => {
    stopped = true;
    document.removeEventListener('visibilitychange', onVisibilityChange);
    if (timer !== null) {
      window.clearTimeout(timer);
    }
  });

  // Runs the task now, or right after the run in progress.
  return () => run(true);
}
