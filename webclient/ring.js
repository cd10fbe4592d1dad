// ring.js — the ring people hear when someone needs them: an incoming call (views/calls.js) or a help
// request offered to an expert on duty (views/help.js). A soft two-tone from Web Audio (no sound file to
// serve); browsers may keep it silent until the page was interacted with, so the views also show and
// announce what rings.
//   const stop = startRing();  …  stop();

export function startRing() {
  try {
    const ac = new AudioContext();
    const osc = ac.createOscillator();
    const gain = ac.createGain();
    gain.gain.value = 0.04;
    osc.connect(gain).connect(ac.destination);
    osc.start();
    const t = setInterval(() => { osc.frequency.value = osc.frequency.value === 440 ? 480 : 440; }, 400);
    return () => { clearInterval(t); osc.stop(); ac.close(); };
  } catch {
    return () => {};
  }
}
