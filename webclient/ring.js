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

// A single short chime (a mention, a help offer while the tab is hidden): two notes, 0.3 s in all.
export function chime() {
  try {
    const ac = new AudioContext();
    const gain = ac.createGain();
    gain.gain.value = 0.05;
    gain.connect(ac.destination);
    [660, 880].forEach((f, i) => {
      const osc = ac.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(ac.currentTime + i * 0.15);
      osc.stop(ac.currentTime + i * 0.15 + 0.14);
    });
    setTimeout(() => ac.close(), 600);
  } catch { /* no audio: the notification and the page still say it */ }
}
