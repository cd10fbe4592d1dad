// views/prejoin.js — the pre-join screen every call and room goes through (like Meet's "Ready to join?"):
// a preview of the camera, a level meter of the microphone, pickers for camera, microphone and (where the
// browser can route audio: HTMLMediaElement.setSinkId) speaker, camera and microphone on/off, Join and
// Cancel. The choice is kept in this browser (devices: rtc.js preferredDevices; on/off: CHOICE_KEY) and
// is the starting point of the next pre-join.
//
// Owns the stream it opens until Join: Join hands it to the caller (tracks enabled per the toggles),
// Cancel, Escape or the abort signal stop it. Must not: send anything to the server.
import { h } from '../dom.js';
import { localMedia, stopStream, videoFor, listDevices, switchDevice, setPreferredDevice, preferredDevices } from '../rtc.js';

const CHOICE_KEY = 'staffroom.prejoin';

// { camera: bool, mic: bool } chosen last time (both on by default).
export function savedChoice() {
  try { return { camera: true, mic: true, ...JSON.parse(localStorage.getItem(CHOICE_KEY)) }; } catch { return { camera: true, mic: true }; }
}

// Applies the remembered on/off to a stream opened without the screen (help's "Keep waiting").
export function applyChoice(stream) {
  const c = savedChoice();
  for (const t of stream.getVideoTracks()) t.enabled = c.camera;
  for (const t of stream.getAudioTracks()) t.enabled = c.mic;
  return stream;
}

// The call controls start as the pre-join left them: a microphone muted there shows "Unmute microphone".
export function showChoice(stream, mic, cam) {
  const set = (btn, tracks, offText) => {
    if (!btn || tracks.length === 0 || tracks.some((t) => t.enabled)) return;
    btn.setAttribute('aria-pressed', 'true');
    btn.textContent = offText;
  };
  set(mic, stream.getAudioTracks(), 'Unmute microphone');
  set(cam, stream.getVideoTracks(), 'Turn camera on');
}

let open = null; // one pre-join at a time: a second one replaces (cancels) the first

// Shows the pre-join screen for `title` ("Drop-in room", "Call with Bob"). `action` is the Join button's
// text; `group` opens the camera at the group size (rtc.js localMedia); `signal` (AbortSignal) closes the
// screen from outside (the call was cancelled while it was shown).
// Resolves { stream (new, the caller's), camera, mic } on Join, or null when cancelled. Never rejects.
export function prejoin(ctx, { title, action = 'Join', group = false, signal } = {}) {
  open?.cancel();
  return new Promise((resolve) => {
    const before = document.activeElement;
    const choice = savedChoice();
    let stream = null;
    let done = false;
    let meterStop = null;

    const preview = h('div', { class: 'prejoin-preview' }, h('p', { class: 'muted' }, 'Opening your camera…'));
    const meter = h('meter', { class: 'mic-meter', min: '0', max: '1', low: '0.05', high: '0.7', optimum: '0.3', value: '0',
      'aria-label': 'Microphone level' });
    const camOn = h('input', { type: 'checkbox', checked: choice.camera, name: 'prejoin-camera-on' });
    const micOn = h('input', { type: 'checkbox', checked: choice.mic, name: 'prejoin-mic-on' });
    const pickers = h('div', { class: 'prejoin-devices' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const join = h('button', { type: 'button', class: 'accept', disabled: true }, action);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const box = h('section', { class: 'prejoin-layer', role: 'dialog', 'aria-modal': 'true', 'aria-label': `Before you join: ${title}` },
      h('div', { class: 'prejoin-card card' },
        h('h2', {}, `Ready to join? ${title}`),
        preview,
        h('div', { class: 'prejoin-toggles' },
          h('label', { class: 'check' }, camOn, ' Camera on'),
          h('label', { class: 'check' }, micOn, ' Microphone on'),
          h('label', { class: 'meter-label' }, 'Microphone level ', meter)),
        pickers, error,
        h('div', { class: 'actions' }, join, cancel)));
    document.body.append(box);
    document.body.dataset.prejoin = 'open';

    function finish(result) {
      if (done) return;
      done = true;
      meterStop?.();
      box.remove();
      delete document.body.dataset.prejoin;
      signal?.removeEventListener('abort', onAbort);
      if (open?.box === box) open = null;
      if (!result) stopStream(stream);
      if (before?.isConnected && !result) before.focus?.();
      resolve(result);
    }
    const onAbort = () => finish(null);
    signal?.addEventListener('abort', onAbort);
    open = { box, cancel: () => finish(null) };

    const sync = () => {
      for (const t of stream?.getVideoTracks() || []) t.enabled = camOn.checked;
      for (const t of stream?.getAudioTracks() || []) t.enabled = micOn.checked;
      box.dataset.camera = String(camOn.checked);
      box.dataset.mic = String(micOn.checked);
    };
    camOn.addEventListener('change', sync);
    micOn.addEventListener('change', sync);
    join.addEventListener('click', () => {
      localStorage.setItem(CHOICE_KEY, JSON.stringify({ camera: camOn.checked, mic: micOn.checked }));
      sync();
      finish({ stream, camera: camOn.checked, mic: micOn.checked });
    });
    cancel.addEventListener('click', () => finish(null));
    box.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') { ev.preventDefault(); finish(null); }
      if (ev.key === 'Tab') trapFocus(box, ev);
    });
    join.focus();

    localMedia({ group }).then(async (s) => {
      if (done) { stopStream(s); return; }
      stream = s;
      sync();
      preview.replaceChildren(videoFor(s, { local: true, label: 'Preview of your camera' }));
      meterStop = levelMeter(s, meter);
      join.disabled = false;
      join.focus();
      box.dataset.state = 'ready';
      const devices = await listDevices().catch(() => ({ video: [], audio: [], output: [] }));
      if (done) return;
      pickers.replaceChildren(...devicePickers(ctx, s, devices, error));
    }).catch((err) => {
      if (done) return;
      box.dataset.state = 'failed';
      preview.replaceChildren(h('p', {}, 'No camera or microphone.'));
      error.textContent = `The camera or microphone could not be opened: ${err.message}. Check the browser's permission and try again.`;
      cancel.focus();
    });
  });
}

// The camera, microphone and speaker selects; a change switches the preview's track and is remembered.
function devicePickers(ctx, stream, devices, error) {
  const out = [];
  for (const [kind, label, list] of [['video', 'Camera', devices.video], ['audio', 'Microphone', devices.audio]]) {
    const current = (kind === 'video' ? stream.getVideoTracks() : stream.getAudioTracks())[0]?.getSettings().deviceId;
    const select = h('select', { name: `prejoin-${kind}` },
      list.map((d) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label)));
    select.addEventListener('change', async () => {
      setPreferredDevice(kind, select.value);
      error.textContent = '';
      try { await switchDevice(stream, kind, select.value, []); } catch (err) { error.textContent = `That device could not be opened: ${err.message}`; }
    });
    out.push(h('label', { class: 'field' }, label, select));
  }
  // Speakers can be chosen only where the browser routes a media element's audio (setSinkId).
  if ('setSinkId' in HTMLMediaElement.prototype && devices.output?.length) {
    const pref = preferredDevices().speaker;
    const select = h('select', { name: 'prejoin-speaker' },
      devices.output.map((d) => h('option', { value: d.deviceId, selected: d.deviceId === pref }, d.label)));
    select.addEventListener('change', () => { setPreferredDevice('speaker', select.value); ctx.announce?.(`Speaker: ${select.selectedOptions[0]?.textContent}`); });
    out.push(h('label', { class: 'field' }, 'Speaker', select));
  }
  return out;
}

// Drives `meter` from the microphone's loudness (RMS of the waveform, scaled) while the screen is shown.
// Returns its stop. Without Web Audio the meter stays at 0.
function levelMeter(stream, meter) {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx || !stream.getAudioTracks().length) return () => {};
  const ac = new Ctx();
  ac.resume?.().catch(() => {});
  const an = ac.createAnalyser();
  an.fftSize = 512;
  let src = ac.createMediaStreamSource(stream);
  src.connect(an);
  let track = stream.getAudioTracks()[0];
  const buf = new Float32Array(an.fftSize);
  // a timer, not requestAnimationFrame: it keeps going in a background tab and costs little at 10 Hz
  const timer = setInterval(() => {
    const now = stream.getAudioTracks()[0];
    if (now && now !== track) { // a new microphone was picked: listen to it
      src.disconnect();
      src = ac.createMediaStreamSource(new MediaStream([now]));
      src.connect(an);
      track = now;
    }
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    const level = track?.enabled ? Math.min(1, Math.sqrt(sum / buf.length) * 4) : 0;
    meter.value = level;
    meter.dataset.level = level.toFixed(3);
  }, 100);
  return () => { clearInterval(timer); src.disconnect(); ac.close().catch(() => {}); };
}

// Keeps Tab inside the dialog (it is modal).
function trapFocus(box, ev) {
  const f = [...box.querySelectorAll('button, select, input, [tabindex]:not([tabindex="-1"])')].filter((x) => !x.disabled);
  if (!f.length) return;
  const first = f[0];
  const last = f[f.length - 1];
  if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
  else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
}
