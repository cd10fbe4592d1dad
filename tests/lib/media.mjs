// media.mjs — what a page's WebRTC peers are receiving, read from getStats() of the peer connections the
// web client exposes as window.staffroomPeers (rtc.js): decoded video frames and the candidate types of the
// selected pair, so browser tests can assert "video flows, through the relay".
//
//   const { at, stats } = await firstFrames(page, 2, t0);   // every peer (at least 2) decoding, at ms after t0
//   assert.ok(stats.every((s) => s.local === 'relay' && s.remote === 'relay'));

// One entry per live peer connection of the page: {label, frames, state, local, remote}.
export function mediaStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const p of window.staffroomPeers || []) {
      const stats = await p.pc.getStats();
      const byId = new Map();
      stats.forEach((s) => byId.set(s.id, s));
      let frames = 0; let pair = null;
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
      });
      if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
      out.push({ label: p.label, frames, state: p.pc.connectionState,
        local: pair ? byId.get(pair.localCandidateId)?.candidateType : null,
        remote: pair ? byId.get(pair.remoteCandidateId)?.candidateType : null });
    }
    return out;
  });
}

// Resolves with the time (ms after t0) when every peer of the page (at least `n`) has decoded video.
export async function firstFrames(page, n, t0, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await mediaStats(page);
    if (s.length >= n && s.every((x) => x.frames > 0)) return { at: Date.now() - t0, stats: s };
    if (Date.now() > deadline) throw new Error(`no decoded video after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 25)); // getStats has no change event: poll
  }
}
