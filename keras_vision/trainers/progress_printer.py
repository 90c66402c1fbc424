"""One progress line per log interval: step, loss, images/s, steps/s, elapsed and ETA."""

import sys


def format_duration(seconds):
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


class ProgressPrinter:
    """Prints `[step 120/300  40.0%] loss 1.2345 | 512.3 img/s | 2.00 steps/s | 0:01:02 < ETA 0:01:30`.

    Throughput is measured over the last interval of training time only (evaluations
    and checkpoints excluded); the ETA assumes that speed for the remaining steps.

    Args:
        total_steps: the run's last step.
        batch_size: images per optimizer step.
        stream: where to print (default stdout).
    """

    def __init__(self, total_steps, batch_size, stream=None):
        self.total_steps, self.batch_size = int(total_steps), int(batch_size)
        self.stream = stream or sys.stdout

    def line(self, step, metrics, interval_steps, interval_seconds, elapsed_seconds):
        steps_per_s = interval_steps / interval_seconds if interval_seconds > 0 else float("nan")
        img_per_s = steps_per_s * self.batch_size
        eta = (self.total_steps - step) / steps_per_s if steps_per_s > 0 else None
        width = len(str(self.total_steps))
        parts = [f"[step {step:>{width}}/{self.total_steps} {100.0 * step / self.total_steps:5.1f}%]"]
        shown = [f"{k.replace('training_', '')} {v:.4g}" for k, v in metrics.items()]
        parts.append(" ".join(shown) if shown else "")
        parts.append(f"{img_per_s:.1f} img/s")
        parts.append(f"{steps_per_s:.2f} steps/s")
        parts.append(f"{format_duration(elapsed_seconds)} < ETA {format_duration(eta)}")
        return parts[0] + " " + " | ".join(p for p in parts[1:] if p)

    def print(self, *args, **kwargs):
        print(self.line(*args, **kwargs), file=self.stream, flush=True)

    def note(self, text):
        print(text, file=self.stream, flush=True)
