// One camera tile of the grid (grid.ts): JPEG frames drawn on a canvas (latest wins, never a
// backlog), boxes / names / similarity / track ids drawn crisply on an overlay canvas from the frame
// metadata (overlay.ts), the stream's state and figures, and its style picker (style-picker.ts).
import { decodeJpeg } from './decode.js';
import { el } from './dom.js';
import type { Grid } from './grid.js';
import { drawDetections } from './overlay.js';
import type { FrameHeader, StreamRates, StyleChoice, StyleInfo, TileStatus } from './protocol.js';
import { StylePicker } from './style-picker.js';

/** Window for the fps measured in the page, ms. */
const FPS_WINDOW_MS = 2000;
/** How often a tile reports its capture-to-display latency to the server, ms. */
const REPORT_MS = 1500;

export interface TileSnapshot {
  id: string;
  state: string;
  lastError?: string;
  subscribed: boolean;
  visible: boolean;
  framesShown: number;
  shownFps: number;
  latencyMs: number | null;
  rates: StreamRates | null;
  header: FrameHeader | null;
  /** The style picked in this tile (null: none), or undefined without a style stage. */
  chosenStyle?: string | null;
  chosenStrength?: number;
}

export class Tile {
  readonly root: HTMLElement;
  readonly view: HTMLElement;
  readonly video: HTMLCanvasElement;
  readonly overlay: HTMLCanvasElement;
  private readonly badge: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly fps: HTMLElement;
  private readonly processed: HTMLElement;
  private readonly drops: HTMLElement;
  private readonly latency: HTMLElement;
  private readonly stylePicker: StylePicker;
  /** In the viewport (IntersectionObserver). */
  visible = false;
  status: TileStatus;
  rates: StreamRates | null = null;
  lastHeader: FrameHeader | null = null;
  latencyMs: number | null = null;
  framesShown = 0;
  private shownAt: number[] = [];
  private reportedAt = 0;
  private decoding = false;
  private pending: { header: FrameHeader; jpeg: Uint8Array<ArrayBuffer> } | undefined;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    readonly id: string,
    private readonly grid: Grid,
  ) {
    this.status = { id, state: 'connecting', attempts: 0 };
    const root = el('section', { className: 'tile', attrs: { 'data-stream': id, tabindex: '0' } });
    this.root = root;
    this.view = el('div', { className: 'view', title: 'click to enlarge' }, root);
    this.video = el('canvas', { className: 'video' }, this.view);
    this.overlay = el('canvas', { className: 'overlay' }, this.view);
    this.ctx = this.video.getContext('2d', { alpha: false }) as CanvasRenderingContext2D;
    this.banner = el('div', { className: 'banner' }, this.view);
    el('div', { className: 'paused-note', text: 'paused: not visible' }, this.view);
    const info = el('div', { className: 'info' }, root);
    const title = el('div', { className: 'title' }, info);
    el('span', { className: 'cam', text: id }, title);
    this.badge = el('span', { className: 'badge state' }, title);
    // per-camera style picker: filled by setStyles() when the pipeline has a style stage
    this.stylePicker = new StylePicker(
      el('div', { className: 'style-pick', attrs: { hidden: '' } }, info),
      id,
    );
    const stats = el('div', { className: 'stats' }, info);
    const stat = (label: string, cls: string, title: string) => {
      const s = el('span', { className: 'stat', title }, stats);
      el('span', { className: 'k', text: label }, s);
      return el('span', { className: `v ${cls}`, text: '–' }, s);
    };
    this.fps = stat('shown', 'fps', 'frames shown per second, measured in this page');
    this.processed = stat('proc', 'processed', 'frames processed per second by the server');
    this.drops = stat('drops', 'drops', 'frames dropped per second by the server (all reasons)');
    this.latency = stat('latency', 'latency', 'capture-to-display latency, measured in this page');
    this.view.addEventListener('click', () => grid.toggleBig(this));
    root.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') grid.toggleBig(this);
    });
    this.setStatus(this.status);
  }

  /** Builds the style picker (a style or none, and a strength) from the server's list of styles. */
  setStyles(styles: StyleInfo[], choice: StyleChoice, onChange: (c: StyleChoice) => void): void {
    this.stylePicker.fill(styles, choice, onChange);
  }

  setStatus(s: TileStatus): void {
    this.status = s;
    if (s.width && s.height) this.setAspect(s.width, s.height);
    const state = s.state;
    this.root.dataset.state = state;
    // cluster mode: another node runs the camera, its frames come through this one
    this.badge.textContent = state === 'remote' && s.node ? `on ${s.node}` : state;
    this.badge.className = `badge state ${state}`;
    let text = '';
    if (state === 'retrying') {
      const next = s.retryInMs ? `, next try in ${(s.retryInMs / 1000).toFixed(1)} s` : '';
      text = `Reconnecting (attempt ${s.attempts}${next})${s.lastError ? `: ${s.lastError}` : ''}`;
    } else if (state === 'failed') text = `Stopped retrying: ${s.lastError ?? 'unknown error'}`;
    else if (state === 'offline') text = 'Connection to Vigil lost: reconnecting…';
    else if (state === 'connecting') text = 'Connecting…';
    else if (state === 'stopped') text = 'Stopped';
    this.banner.textContent = text;
    this.banner.hidden = !text;
    this.root.dataset.error = state === 'live' || state === 'remote' ? '' : (s.lastError ?? '');
  }

  setRates(r: StreamRates): void {
    this.rates = r;
    setText(this.processed, `${r.processedFps.toFixed(1)} fps`);
    setText(this.drops, `${r.droppedPerSecond.toFixed(1)}/s`);
    this.drops.classList.toggle('warn', r.droppedPerSecond >= 0.5);
  }

  setSubscribed(on: boolean): void {
    this.root.classList.toggle('paused', !on);
    if (!on) this.pending = undefined;
  }

  /** Refreshes the figures once a second (not per frame: no layout work per frame). */
  tick(now: number): void {
    setText(this.fps, `${this.shownFps(now).toFixed(1)} fps`);
    if (this.latencyMs !== null) setText(this.latency, `${Math.round(this.latencyMs)} ms`);
  }

  shownFps(now = Date.now()): number {
    while (this.shownAt.length && (this.shownAt[0] as number) < now - FPS_WINDOW_MS) this.shownAt.shift();
    return this.shownAt.length / (FPS_WINDOW_MS / 1000);
  }

  /** Newest frame wins: while one is decoding only the latest arrival is kept, never a queue. */
  async show(header: FrameHeader, jpeg: Uint8Array<ArrayBuffer>): Promise<void> {
    if (this.decoding) {
      this.pending = { header, jpeg };
      return;
    }
    this.decoding = true;
    try {
      const bmp = await decodeJpeg(jpeg);
      if (this.video.width !== bmp.width || this.video.height !== bmp.height) {
        this.video.width = bmp.width;
        this.video.height = bmp.height;
        this.setAspect(bmp.width, bmp.height);
      }
      this.ctx.drawImage(bmp, 0, 0);
      bmp.close();
      const prev = this.lastHeader;
      this.lastHeader = header;
      // an overlay with nothing on it before or now is left alone (no clear, no repaint)
      if (header.detections.length || prev?.detections.length || !prev) this.drawOverlay();
      const now = Date.now();
      this.framesShown++;
      this.shownAt.push(now);
      if (!this.root.classList.contains('has-frame')) this.root.classList.add('has-frame');
      const latency = now + this.grid.conn.clockOffset - header.captureTs;
      if (latency >= 0) {
        this.latencyMs = this.latencyMs === null ? latency : this.latencyMs * 0.8 + latency * 0.2;
        // reported back about every 1.5 s (capture-to-display latency metric on the server)
        if (now - this.reportedAt >= REPORT_MS) {
          this.reportedAt = now;
          this.grid.conn.send({
            type: 'displayed',
            stream: header.stream,
            seq: header.seq,
            latencyMs: latency,
          });
        }
      }
    } catch {
      // a corrupt JPEG: skip it
    } finally {
      this.decoding = false;
      const next = this.pending;
      this.pending = undefined;
      if (next) void this.show(next.header, next.jpeg);
    }
  }

  /** Draws the detections at the overlay's on-screen resolution (crisp at any tile size). */
  drawOverlay(): void {
    const h = this.lastHeader;
    const c = this.overlay;
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.round(this.view.clientWidth * dpr);
    const ch = Math.round(this.view.clientHeight * dpr);
    if (!cw || !ch) return;
    if (c.width !== cw || c.height !== ch) {
      c.width = cw;
      c.height = ch;
    }
    const g = c.getContext('2d') as CanvasRenderingContext2D;
    g.clearRect(0, 0, cw, ch);
    if (!h) return;
    const labels = h.detections
      .map((d) => d.label)
      .filter(Boolean)
      .join('|');
    if (this.root.dataset.labels !== labels) this.root.dataset.labels = labels;
    // Frames with burnt-in boxes (output.burnIn) need no overlay.
    if (!this.grid.overlayOn || h.annotated) return;
    drawDetections(g, h, cw, ch, this.view.clientWidth, dpr);
  }

  snapshot(): TileSnapshot {
    return {
      id: this.id,
      state: this.status.state,
      lastError: this.status.lastError,
      subscribed: this.grid.conn.subscribed.has(this.id),
      visible: this.visible,
      framesShown: this.framesShown,
      shownFps: this.shownFps(),
      latencyMs: this.latencyMs,
      rates: this.rates,
      header: this.lastHeader,
      chosenStyle: this.stylePicker.chosenStyle(),
      chosenStrength: this.stylePicker.chosenStrength(),
    };
  }

  private setAspect(w: number, h: number): void {
    this.view.style.setProperty('--ar', String(w / h));
  }
}

function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}
