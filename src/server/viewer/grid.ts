// The camera grid: one tile per stream, laid out to show every camera as large as possible; tiles on
// screen are the streams the page subscribes to.
import type { Connection } from './connection.js';
import type { StreamStatus, StyleChoice, StyleInfo } from './protocol.js';
import { Tile } from './tiles.js';

/** Narrowest tile before the grid scrolls instead, and the height of a tile's info bar, CSS px. */
const MIN_TILE_PX = 300;
const INFO_PX = 34;

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
