// views/record.js — recording with consent on the call stage (PROTOCOL.md, "Recording"): a Record button in
// the call bar (room.record.request), the dialog that asks you when someone wants to record (agree / decline:
// room.record.consent), the indicator everyone sees while it records or asks (room.record.state), and a Stop
// button for anyone (room.record.stop). When the recording is saved (room.record.saved) you are told.
//
// You joined while it records and have not agreed: your camera and microphone stay off (nothing of you is
// sent) until you agree; declining keeps them off. The SFU records only those who agreed in any case.
// Must not: touch the stage's media beyond enabling/disabling the local tracks.
import { h } from '../dom.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';

// room: the room id; bar, head: the stage's call bar and heading block; stream: local camera+mic;
// device: this connection's device id. Returns { close() }.
export function mountRecording(ctx, { room, bar, head, stream, device }) {
  const { conn } = ctx;
  const st = { state: 'off', recording: '', agreed: false, held: false, saved: null };
  window.staffroomRecording = st; // the browser tests read the state from here

  const indicator = h('p', { class: 'rec-indicator', role: 'status', hidden: true });
  const record = h('button', { type: 'button', class: 'secondary rec-button' }, 'Record');
  const stop = h('button', { type: 'button', class: 'secondary rec-stop', hidden: true }, 'Stop recording');
  head.append(indicator);
  bar.insertBefore(stop, bar.lastElementChild);
  bar.insertBefore(record, stop);
  let dialog = null;

  // Until you agree to a recording that is running, nothing of you is sent.
  function hold(on) {
    if (on === st.held) return;
    st.held = on;
    for (const t of stream.getTracks()) {
      if (on) { t.recHeld = t.enabled; t.enabled = false; } else if (t.recHeld !== undefined) { t.enabled = t.recHeld; delete t.recHeld; }
    }
  }

  function render() {
    const on = st.state === 'recording';
    indicator.hidden = st.state === 'off';
    indicator.textContent = on ? '● Recording' : st.state === 'asking' ? 'Asking everyone to agree to record…' : '';
    indicator.classList.toggle('live', on);
    record.hidden = st.state !== 'off';
    stop.hidden = st.state === 'off';
    stop.textContent = on ? 'Stop recording' : 'Cancel recording';
  }

  function closeDialog() { dialog?.remove(); dialog = null; }

  function ask(by) {
    closeDialog();
    const agree = h('button', { type: 'button' }, 'Agree to be recorded');
    const decline = h('button', { type: 'button', class: 'secondary' }, 'Decline');
    dialog = h('div', { class: 'call-dialog rec-dialog', role: 'alertdialog', 'aria-label': 'Recording request' },
      h('h2', {}, `${nameOf(by)} wants to record this room`),
      h('p', {}, 'Recording starts only when everyone in the room agrees. The recording is kept for the people who agree.'),
      h('div', { class: 'actions' }, agree, decline));
    const answer = async (yes) => {
      closeDialog();
      try {
        await conn.request('room.record.consent', { room, agree: yes });
        st.agreed = yes;
        if (yes) hold(false);
        else ctx.announce?.(st.state === 'recording' ? 'You declined: your camera and microphone stay off while it records.' : 'You declined the recording.');
      } catch (err) { ctx.showError?.(err); }
    };
    agree.addEventListener('click', () => answer(true));
    decline.addEventListener('click', () => answer(false));
    document.body.append(dialog);
    agree.focus();
  }

  // room.record.status and the request's answer are snapshots; room.record.asked/state events travel
  // another way (Redis pub/sub) and can overtake them. `recordEvents` counts the events, so an answer that
  // an event overtook does not put back the state from before it.
  let recordEvents = 0;
  const onAsked = (ev) => {
    if (ev.detail.room !== room) return;
    recordEvents += 1;
    st.recording = ev.detail.recording;
    st.agreed = false;
    if (st.state === 'recording') hold(true);
    ask(ev.detail.by);
  };
  const onState = (ev) => {
    const e = ev.detail;
    if (e.room !== room) return;
    recordEvents += 1;
    const was = st.state;
    st.state = e.state;
    st.recording = e.recording || st.recording;
    if (e.state === 'off') { closeDialog(); hold(false); st.agreed = false; }
    if (e.state === 'recording' && !st.agreed && e.pending?.includes(device)) hold(true);
    if (e.state === 'recording' && was !== 'recording') ctx.announce?.('Recording started.');
    if (e.state === 'off' && was !== 'off') {
      ctx.announce?.(e.reason === 'declined' ? 'Someone declined: the room is not recorded.' : 'Recording stopped.');
    }
    render();
  };
  const onSaved = (ev) => {
    if (ev.detail.room !== room) return;
    st.saved = ev.detail.media;
    ctx.announce?.('The recording is saved in your recordings.');
  };
  conn.addEventListener('room.record.asked', onAsked);
  conn.addEventListener('room.record.state', onState);
  conn.addEventListener('room.record.saved', onSaved);

  record.addEventListener('click', async () => {
    try {
      const seen = recordEvents;
      const r = await conn.request('room.record.request', { room });
      st.recording = r.recording;
      st.agreed = true;
      // an event that came first (recording at once, or already off again) is newer than this answer
      if (st.state === 'off' && seen === recordEvents) { st.state = 'asking'; render(); }
    } catch (err) { ctx.showError?.(err); }
  });
  stop.addEventListener('click', () => conn.request('room.record.stop', { room }).catch((err) => ctx.showError?.(err)));

  // Joined while a recording runs or asks: the server asks us too; meanwhile send nothing if it records.
  // A status overtaken by an event is asked for again (a request sent after the event includes it); one
  // that keeps being overtaken leaves the state to the events.
  let closed = false;
  (async () => {
    for (let tries = 0; tries < 4; tries++) {
      const seen = recordEvents;
      const s = await conn.request('room.record.status', { room });
      if (closed) return;
      if (seen !== recordEvents) continue;
      st.state = s.state;
      st.recording = s.recording;
      st.agreed = s.agreed;
      if (s.state === 'recording' && !s.agreed) hold(true);
      render();
      return;
    }
  })().catch(() => {});
  render();

  return {
    close() {
      closed = true;
      conn.removeEventListener('room.record.asked', onAsked);
      conn.removeEventListener('room.record.state', onState);
      conn.removeEventListener('room.record.saved', onSaved);
      closeDialog();
      if (window.staffroomRecording === st) window.staffroomRecording = null;
    },
  };
}
