// Operator feedback on an alert card: "Correct" / "Wrong" on a named alert, "Ignore" (a poster, a
// TV: this camera) on any alert with a snapshot; each answer can be undone from the same card.
import { api, message } from './api.js';
import { el } from './dom.js';
import type { FaceAlert } from './protocol.js';

type FeedbackEntry = NonNullable<FaceAlert['feedback']>;

const DONE: Record<FeedbackEntry['verdict'], string> = {
  correct: 'Confirmed: the face joins the person’s photos',
  wrong: 'Marked wrong: this face will not be named so again',
  ignore: 'Ignored on this camera: no more alerts for this face',
};

/** The feedback buttons of one alert card (only with a snapshot: the face is taken from it). */
export function feedbackUi(a: FaceAlert, body: HTMLElement): void {
  if (!a.has_snapshot) return;
  const bar = el('div', { className: 'feedback' }, body);
  const msg = el('div', { className: 'feedback-msg' }, body);
  const buttons: HTMLButtonElement[] = [];
  const button = (text: string, title: string, send: () => Promise<FeedbackEntry>) => {
    const b = el('button', { className: 'small ghost', text, title }, bar);
    buttons.push(b);
    b.addEventListener('click', async () => {
      for (const x of buttons) x.disabled = true;
      msg.className = 'feedback-msg';
      msg.textContent = 'Saving…';
      try {
        shown(await send());
      } catch (err) {
        msg.className = 'feedback-msg error';
        msg.textContent = message(err);
        for (const x of buttons) x.disabled = false;
      }
    });
  };
  const post = (path: string, body: unknown) => () =>
    api<FeedbackEntry>(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const shown = (f: FeedbackEntry) => {
    bar.hidden = true;
    msg.className = 'feedback-msg ok';
    msg.replaceChildren(`${DONE[f.verdict]}${f.note ? ` (${f.note})` : ''} `);
    const undo = el('button', { className: 'small ghost undo', text: 'Undo' }, msg);
    undo.addEventListener('click', async () => {
      undo.disabled = true;
      try {
        await api(`/api/feedback/${f.id}`, { method: 'DELETE' });
        msg.textContent = '';
        bar.hidden = false;
        for (const x of buttons) x.disabled = false;
      } catch (err) {
        msg.className = 'feedback-msg error';
        msg.textContent = message(err);
        undo.disabled = false;
      }
    });
  };
  if (a.person_id !== null) {
    const feedback = `/api/alerts/${a.id}/feedback`;
    button('Correct', `yes, this is ${a.sub_label}`, post(feedback, { verdict: 'correct' }));
    button('Wrong', `this is not ${a.sub_label}`, post(feedback, { verdict: 'wrong' }));
  }
  button(
    'Ignore',
    'never alert on this face on this camera (a poster, a TV)',
    post(`/api/alerts/${a.id}/ignore`, { scope: 'camera' }),
  );
  if (a.feedback) shown(a.feedback); // answered before this page was loaded
}
