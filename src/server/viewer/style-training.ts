// Training a style from the page: drop a painting anywhere on the live view (or choose a file);
// the server trains it in the background (POST /api/styles/training, admin token) and every viewer
// sees the progress bar, a preview every few steps and the end over the WebSocket; the new style
// then appears in every camera's picker (a `styles` message). Errors (not an image, too small, a
// name taken) are shown as the server words them.
import { api, message } from './api.js';
import { byId } from './dom.js';
import type { ServerMessage } from './protocol.js';

type Job = Extract<ServerMessage, { type: 'styleTraining' }>['job'];

/** A style name from a file name: "The Scream (1893).jpg" -> "the-scream-1893". */
export function styleNameOf(file: string): string {
  const base = file
    .replace(/\.[^.]+$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|-+$/g, '')
    .slice(0, 48);
  return base || 'painting';
}

export class StyleTraining {
  private readonly box = byId('style-training');
  private readonly bar = byId<HTMLProgressElement>('train-progress');
  private readonly msg = byId('train-msg');
  private readonly preview = byId<HTMLImageElement>('train-preview');
  private readonly cancelBtn = byId<HTMLButtonElement>('train-cancel');
  private readonly steps = byId<HTMLInputElement>('train-steps');
  private readonly file = byId<HTMLInputElement>('train-file');
  private job: Job | undefined;

  constructor(dropZone: HTMLElement) {
    dropZone.addEventListener('dragover', (e) => {
      if (this.box.hidden || !e.dataTransfer?.types.includes('Files')) return;
      e.preventDefault();
      dropZone.classList.add('dropping');
    });
    dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dropping'));
    dropZone.addEventListener('drop', (e) => {
      dropZone.classList.remove('dropping');
      const f = e.dataTransfer?.files[0];
      if (this.box.hidden || !f) return;
      e.preventDefault();
      void this.train(f);
    });
    this.file.addEventListener('change', () => {
      const f = this.file.files?.[0];
      if (f) void this.train(f);
      this.file.value = '';
    });
    this.cancelBtn.addEventListener('click', () => void this.cancel());
  }

  /** Shown only when the pipeline has a style stage. */
  enable(on: boolean): void {
    this.box.hidden = !on;
  }

  async train(f: File): Promise<void> {
    const name = styleNameOf(f.name);
    const steps = this.steps.value || '400';
    this.say(`uploading ${f.name}…`, false);
    try {
      const job = await api<Job>(
        `/api/styles/training?name=${encodeURIComponent(name)}&steps=${encodeURIComponent(steps)}`,
        { method: 'POST', body: f, headers: { 'content-type': f.type || 'application/octet-stream' } },
      );
      this.update(job);
    } catch (e) {
      this.say(`${f.name}: ${message(e)}`, true);
    }
  }

  private async cancel(): Promise<void> {
    if (!this.job) return;
    try {
      await api(`/api/styles/training/${this.job.id}`, { method: 'DELETE' });
    } catch (e) {
      this.say(message(e), true);
    }
  }

  /** A styleTraining message (or the POST's answer). */
  update(job: Job): void {
    this.job = job;
    const active = job.state === 'running' || job.state === 'paused';
    this.box.dataset.state = job.state;
    this.bar.hidden = false;
    this.bar.max = job.steps;
    this.bar.value = job.step;
    this.cancelBtn.hidden = !active;
    if (job.preview) {
      this.preview.src = job.preview;
      this.preview.hidden = false;
      this.preview.title = `step ${job.previewStep}`;
    }
    const what = `"${job.name}": step ${job.step} of ${job.steps}`;
    const text =
      job.state === 'done'
        ? `"${job.name}" is ready: pick it on any camera (${job.message ?? ''})`
        : job.state === 'running'
          ? `training ${what}${job.loss !== undefined ? `, loss ${job.loss.toFixed(3)}` : ''}`
          : `${job.state} ${what}${job.message ? `: ${job.message}` : ''}`;
    this.say(text, job.state === 'failed');
  }

  private say(text: string, error: boolean): void {
    this.msg.textContent = text;
    this.msg.classList.toggle('error', error);
  }
}
