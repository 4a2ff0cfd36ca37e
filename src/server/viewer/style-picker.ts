// A tile's style picker: a style or none and a strength, from the server's list of styles, with the
// thumbnail of the painting picked. Shown only when the pipeline has a style stage.
import { el } from './dom.js';
import type { StyleChoice, StyleInfo } from './protocol.js';

export class StylePicker {
  private select: HTMLSelectElement | undefined;
  private strength: HTMLInputElement | undefined;
  private thumb: HTMLImageElement | undefined;

  /** `box`: the (hidden) element the picker is built in; `id`: the stream, for labels. */
  constructor(
    private readonly box: HTMLElement,
    private readonly id: string,
  ) {}

  /** Builds the picker from the server's list of styles; `onChange` gets every choice made. */
  fill(styles: StyleInfo[], choice: StyleChoice, onChange: (c: StyleChoice) => void): void {
    this.box.replaceChildren();
    this.box.hidden = false;
    this.thumb = el('img', { className: 'style-thumb', attrs: { alt: '' } }, this.box);
    const sel = this.styleSelect(styles);
    const range = this.strengthRange();
    sel.value = choice.style ?? '';
    range.value = String(choice.strength);
    this.select = sel;
    this.strength = range;
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

  /** The style picked (null: none), or undefined while there is no picker. */
  chosenStyle(): string | null | undefined {
    return this.select ? this.select.value || null : undefined;
  }

  chosenStrength(): number | undefined {
    return this.strength ? Number(this.strength.value) : undefined;
  }

  private styleSelect(styles: StyleInfo[]): HTMLSelectElement {
    const sel = el(
      'select',
      {
        className: 'style-select',
        title: 'style of this camera, for this page',
        attrs: { 'aria-label': `style of ${this.id}` },
      },
      this.box,
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
    return sel;
  }

  private strengthRange(): HTMLInputElement {
    return el(
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
      this.box,
    );
  }

  private updateThumb(styles: StyleInfo[], name: string | null): void {
    const st = styles.find((x) => x.name === name);
    if (!this.thumb) return;
    this.thumb.hidden = !st?.thumbnail;
    if (st?.thumbnail) {
      this.thumb.src = st.thumbnail;
      this.thumb.title = st.painting ?? st.name;
    }
  }
}
