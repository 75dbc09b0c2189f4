// AudioWorklet: the context runs at 16 kHz; gather 320 samples (20 ms) and post them as Int16 with their end index.
class Capture extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Int16Array(320); this.n = 0; this.total = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      const v = Math.max(-1, Math.min(1, ch[i]));
      this.buf[this.n++] = v < 0 ? v * 32768 : v * 32767;
      if (this.n === this.buf.length) {
        this.total += this.n;
        this.port.postMessage({pcm: this.buf.buffer, end: this.total}, [this.buf.buffer]);
        this.buf = new Int16Array(320); this.n = 0;
      }
    }
    return true;
  }
}
registerProcessor('capture', Capture);
