// The camera grid: one tile per stream, JPEG frames drawn on a canvas (latest wins, never a backlog),
// boxes / names / similarity / track ids drawn crisply on an overlay canvas from the frame metadata.
import type { Connection } from './connection.js';
import { decodeJpeg } from './decode.js';
import { el } from './dom.js';
import type {
  Detection,
  FrameHeader,
  StreamRates,
  StreamStatus,
  TileStatus,
  StyleChoice,
  StyleInfo,
} from './protocol.js';

const COLOR = { known: '#22c55e', unknown: '#f59e0b', face: '#38bdf8' };
/** Narrowest tile before the grid scrolls instead, and the height of a tile's info bar, CSS px. */
const MIN_TILE_PX = 300;
const INFO_PX = 34;
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
  private readonly styleBox: HTMLElement;
  private styleSelect: HTMLSelectElement | undefined;
  private styleStrength: HTMLInputElement | undefined;
  private styleThumb: HTMLImageElement | undefined;
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
    this.styleBox = el('div', { className: 'style-pick', attrs: { hidden: '' } }, info);
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
    this.styleBox.replaceChildren();
    this.styleBox.hidden = false;
    this.styleThumb = el('img', { className: 'style-thumb', attrs: { alt: '' } }, this.styleBox);
    const sel = el(
      'select',
      {
        className: 'style-select',
        title: 'style of this camera, for this page',
        attrs: { 'aria-label': `style of ${this.id}` },
      },
      this.styleBox,
    );
    el('option', { text: 'no style', attrs: { value: '' } }, sel);
    for (const st of styles) {
      const o = el(
        'option',
        { text: st.painting ? `${st.name} (${st.painting})` : st.name, attrs: { value: st.name } },
        sel,
      );
      if (st.error) {
        o.disabled = true;
        o.title = st.error;
      }
    }
    const range = el(
      'input',
      {
        className: 'style-strength',
        title: 'strength: blend with the original video',
        attrs: {
          type: 'range',
          min: '0',
          max: '1',
          step: '0.05',
          'aria-label': `style strength of ${this.id}`,
        },
      },
      this.styleBox,
    );
    sel.value = choice.style ?? '';
    range.value = String(choice.strength);
    this.styleSelect = sel;
    this.styleStrength = range;
    const emit = () => {
      const c = { style: sel.value || null, strength: Number(range.value) };
      this.updateThumb(styles, c.style);
      range.disabled = c.style === null;
      onChange(c);
    };
    this.updateThumb(styles, choice.style);
    range.disabled = choice.style === null;
    sel.addEventListener('change', emit);
    range.addEventListener('change', emit);
  }

  private updateThumb(styles: StyleInfo[], name: string | null): void {
    const st = styles.find((x) => x.name === name);
    if (!this.styleThumb) return;
    this.styleThumb.hidden = !st?.thumbnail;
    if (st?.thumbnail) {
      this.styleThumb.src = st.thumbnail;
      this.styleThumb.title = st.painting ?? st.name;
    }
  }

  setStatus(s: TileStatus): void {
    this.status = s;
    if (s.width && s.height) this.setAspect(s.width, s.height);
    const state = s.state;
    this.root.dataset.state = state;
    this.badge.textContent = state;
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
    this.root.dataset.error = state === 'live' ? '' : (s.lastError ?? '');
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
    const sx = cw / h.width;
    const sy = ch / h.height;
    const fontPx = Math.round(Math.max(11, Math.min(14, this.view.clientWidth / 40)) * dpr);
    g.font = `600 ${fontPx}px system-ui, -apple-system, "Segoe UI", sans-serif`;
    g.textBaseline = 'middle';
    const placed: Rect[] = [];
    for (const d of h.detections) drawDetection(g, d, sx, sy, dpr, fontPx, placed);
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
      chosenStyle: this.styleSelect ? this.styleSelect.value || null : undefined,
      chosenStrength: this.styleStrength ? Number(this.styleStrength.value) : undefined,
    };
  }

  private setAspect(w: number, h: number): void {
    this.view.style.setProperty('--ar', String(w / h));
  }
}

function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

function labelOf(d: Detection): { text: string; color: string } {
  const track = d.trackId !== undefined ? `  #${d.trackId}` : '';
  if (d.label === undefined)
    return {
      text: d.trackId !== undefined ? `face${track}` : `face ${d.score.toFixed(2)}`,
      color: COLOR.face,
    };
  const sim = d.similarity !== undefined && d.similarity > 0 ? ` ${d.similarity.toFixed(2)}` : '';
  return { text: `${d.label}${sim}${track}`, color: d.label === 'unknown' ? COLOR.unknown : COLOR.known };
}

type Rect = { x: number; y: number; w: number; h: number };
const overlaps = (a: Rect, b: Rect) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

function drawDetection(
  g: CanvasRenderingContext2D,
  d: Detection,
  sx: number,
  sy: number,
  dpr: number,
  fontPx: number,
  placed: Rect[],
): void {
  const { text, color } = labelOf(d);
  const [x1, y1, x2, y2] = d.box;
  const x = Math.round(x1 * sx) + 0.5;
  const y = Math.round(y1 * sy) + 0.5;
  const w = Math.round((x2 - x1) * sx);
  const h = Math.round((y2 - y1) * sy);
  g.lineWidth = 2 * dpr;
  g.strokeStyle = color;
  g.strokeRect(x, y, w, h);
  if (d.landmarks?.length) {
    g.fillStyle = color;
    for (const [lx, ly] of d.landmarks) {
      g.beginPath();
      g.arc(lx * sx, ly * sy, 1.6 * dpr, 0, Math.PI * 2);
      g.fill();
    }
  }
  const padX = 5 * dpr;
  const lh = fontPx + 6 * dpr;
  const tw = g.measureText(text).width + padX * 2;
  // above the box, else below it, else inside its top edge: the first place no other label took
  const lx = Math.min(x - dpr, g.canvas.width - tw);
  const spots = [y - lh, y + h, y].filter((v) => v >= 0 && v + lh <= g.canvas.height);
  const free = spots.find((v) => !placed.some((r) => overlaps(r, { x: lx, y: v, w: tw, h: lh })));
  const ly = free ?? spots[0] ?? Math.max(0, y - lh);
  placed.push({ x: lx, y: ly, w: tw, h: lh });
  g.fillStyle = color;
  g.fillRect(lx, ly, tw, lh);
  g.fillStyle = '#0b0d10';
  g.fillText(text, lx + padX, ly + lh / 2 + 0.5);
}

export class Grid {
  readonly tiles = new Map<string, Tile>();
  overlayOn = true;
  private readonly io: IntersectionObserver;
  private readonly ro: ResizeObserver;
  private aspect = 16 / 9;

  constructor(
    readonly root: HTMLElement,
    readonly conn: Connection,
    /** Called when which tiles can be seen changes. */
    private readonly onVisibility: () => void,
  ) {
    this.io = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const t = this.tiles.get((e.target as HTMLElement).dataset.stream ?? '');
        if (t) t.visible = e.isIntersecting;
      }
      this.onVisibility();
    });
    this.ro = new ResizeObserver((entries) => {
      for (const e of entries) this.tiles.get(e.target.parentElement?.dataset.stream ?? '')?.drawOverlay();
    });
    new ResizeObserver(() => this.layout()).observe(root);
    window.setInterval(() => {
      const now = Date.now();
      for (const t of this.tiles.values()) t.tick(now);
    }, 1000);
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') for (const t of this.tiles.values()) t.root.classList.remove('big');
    });
  }

  /** Makes the grid match the server's streams, in its order. */
  setStreams(streams: StreamStatus[]): void {
    const ids = new Set(streams.map((s) => s.id));
    for (const [id, t] of this.tiles)
      if (!ids.has(id)) {
        this.io.unobserve(t.root);
        this.ro.unobserve(t.view);
        t.root.remove();
        this.tiles.delete(id);
      }
    for (const s of streams) this.tile(s.id).setStatus(s);
    for (const s of streams) this.root.appendChild(this.tile(s.id).root);
    this.root.classList.toggle('empty', streams.length === 0);
    const first = streams.find((s) => s.width && s.height);
    if (first?.width && first.height) this.aspect = first.width / first.height;
    this.layout();
  }

  /**
   * Gives every tile a style picker (pipelines with a style stage). A tile's choice is kept in this
   * browser (localStorage) and sent with its subscription; `fallback` is the server's default.
   */
  setStyles(styles: StyleInfo[], fallback: StyleChoice): void {
    const known = new Set(styles.map((s) => s.name));
    for (const t of this.tiles.values()) {
      let choice = fallback;
      try {
        const saved = JSON.parse(localStorage.getItem(`vigil.style.${t.id}`) ?? 'null') as StyleChoice | null;
        if (saved && (saved.style === null || known.has(saved.style))) choice = saved;
      } catch {
        // a corrupt saved choice: the default
      }
      this.conn.setStyle(t.id, choice);
      t.setStyles(styles, choice, (c) => {
        localStorage.setItem(`vigil.style.${t.id}`, JSON.stringify(c));
        this.conn.setStyle(t.id, c);
      });
    }
  }

  /**
   * Picks the number of columns that shows every camera as large as possible in the space there is
   * (like an NVR wall); with more cameras than fit at MIN_TILE_PX wide, the grid scrolls.
   */
  layout(): void {
    const n = this.tiles.size;
    const style = getComputedStyle(this.root);
    const gap = Number.parseFloat(style.columnGap) || 0;
    const w = this.root.clientWidth - (Number.parseFloat(style.paddingLeft) || 0) * 2;
    const h = this.root.clientHeight - (Number.parseFloat(style.paddingTop) || 0) * 2;
    if (!n || w <= 0 || window.innerWidth <= 900) {
      this.root.style.gridTemplateColumns = '';
      return;
    }
    let best = { cols: 1, width: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const byWidth = (w - gap * (cols - 1)) / cols;
      const byHeight = ((h - gap * (rows - 1)) / rows - INFO_PX) * this.aspect;
      const width = Math.floor(Math.min(byWidth, byHeight));
      if (byWidth < MIN_TILE_PX && cols > 1) break;
      if (width > best.width) best = { cols, width };
    }
    // too many to fit: as many columns of MIN_TILE_PX or more as the width allows, and scroll
    const cols =
      best.width < MIN_TILE_PX ? Math.max(1, Math.floor((w + gap) / (MIN_TILE_PX + gap))) : best.cols;
    const width = best.width < MIN_TILE_PX ? Math.floor((w - gap * (cols - 1)) / cols) : best.width;
    this.root.style.gridTemplateColumns = `repeat(${cols}, ${width}px)`;
  }

  tile(id: string): Tile {
    let t = this.tiles.get(id);
    if (t) return t;
    t = new Tile(id, this);
    this.tiles.set(id, t);
    this.root.appendChild(t.root);
    this.io.observe(t.root);
    this.ro.observe(t.view);
    return t;
  }

  /** Streams worth receiving: tiles on screen while the page itself is visible. */
  visibleIds(): string[] {
    if (document.visibilityState !== 'visible') return [];
    return [...this.tiles.values()].filter((t) => t.visible).map((t) => t.id);
  }

  toggleBig(t: Tile): void {
    const big = !t.root.classList.contains('big');
    for (const o of this.tiles.values()) o.root.classList.remove('big');
    t.root.classList.toggle('big', big);
    if (big) t.root.scrollIntoView({ block: 'nearest' });
  }

  redraw(): void {
    for (const t of this.tiles.values()) t.drawOverlay();
  }

  /** The page lost its server: every tile shows it until the next hello. */
  setOffline(): void {
    for (const t of this.tiles.values()) t.setStatus({ ...t.status, state: 'offline' });
  }
}
