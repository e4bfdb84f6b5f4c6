// tunesmith studio: fill the form from the API, generate, show, play and offer downloads.
// Plain JavaScript, no build step and nothing fetched from elsewhere: works offline.
"use strict";

const $ = (id) => document.getElementById(id);
const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const LOW = 60;  // the on-screen keyboard: C4 ...
const HIGH = 83; // ... to B5

let audioContext = null;
let playing = [];

function noteName(pitch) {
  return NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1);
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : response.statusText;
    throw new Error(detail);
  }
  return body;
}

// ------------------------------------------------------------------------ runs, instruments

async function loadRuns() {
  const runs = await getJSON("/api/runs");
  const select = $("run");
  select.replaceChildren();
  for (const run of runs) {
    const option = document.createElement("option");
    option.value = run.name;
    option.textContent = run.shipped ? `${run.name} (shipped)` : run.name;
    option.dataset.info = describeRun(run);
    option.dataset.chords = run.chords ? "yes" : "";
    option.dataset.styles = (run.styles || []).join(",");
    select.append(option);
  }
  if (!runs.length) {
    setStatus("No trained runs in the runs folder: train one with 'tunesmith train'.", true);
    $("generate").disabled = true;
  }
  showRunInfo();
}

function describeRun(run) {
  const parts = [];
  if (run.shipped) parts.push("installed with tunesmith");
  if (run.model) parts.push(`${run.model.toUpperCase()} ${run.num_layers}×${run.hidden_size}`);
  if (run.chords) parts.push("writes over chords");
  if (run.parameters) parts.push(`${run.parameters.toLocaleString()} parameters`);
  if (run.epochs) parts.push(`${run.epochs} epochs`);
  if (run.best_val_loss != null) parts.push(`val loss ${run.best_val_loss.toFixed(3)}`);
  return parts.join(", ");
}

function showRunInfo() {
  const option = $("run").selectedOptions[0];
  $("run-info").textContent = option ? option.dataset.info : "";
  $("chords-row").hidden = !(option && option.dataset.chords);
  const styles = option && option.dataset.styles ? option.dataset.styles.split(",") : [];
  const select = $("style");
  select.replaceChildren(new Option("each opening's own", ""), ...styles.map((s) => new Option(s, s)));
  $("style-row").hidden = !styles.length;
}

async function loadInstruments() {
  const names = await getJSON("/api/instruments");
  const list = $("instruments");
  for (const name of names) {
    const option = document.createElement("option");
    option.value = name;
    list.append(option);
  }
}

// ------------------------------------------------------------------------------ keyboard

function buildKeyboard() {
  const keyboard = $("keyboard");
  const whites = [];
  for (let p = LOW; p <= HIGH; p++) if (!NAMES[p % 12].includes("#")) whites.push(p);
  const width = 100 / whites.length;
  for (let p = LOW; p <= HIGH; p++) {
    const key = document.createElement("div");
    const black = NAMES[p % 12].includes("#");
    key.className = `key ${black ? "black" : "white"}`;
    key.dataset.pitch = p;
    key.title = noteName(p);
    if (black) {
      const left = whites.indexOf(p + 1) * width;
      key.style.left = `${left - width * 0.3}%`;
      key.style.width = `${width * 0.6}%`;
    } else {
      key.style.left = `${whites.indexOf(p) * width}%`;
      key.style.width = `${width}%`;
      if (p % 12 === 0) key.textContent = noteName(p);
    }
    key.addEventListener("click", () => {
      const field = $("seed_notes");
      field.value = (field.value.trim() + " " + noteName(p)).trim();
      playNotes([{ pitch: p, start: 0, duration: 0.3 }]);
    });
    keyboard.append(key);
  }
}

// ------------------------------------------------------------------ Web Audio (no WAV)

function playNotes(notes) {
  stopNotes();
  audioContext = audioContext || new AudioContext();
  const t0 = audioContext.currentTime + 0.05;
  for (const note of notes) {
    const osc = audioContext.createOscillator();
    const gain = audioContext.createGain();
    osc.type = "triangle";
    osc.frequency.value = 440 * Math.pow(2, (note.pitch - 69) / 12);
    const start = t0 + note.start;
    const end = start + Math.max(0.05, note.duration);
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.25, start + 0.01);
    gain.gain.setTargetAtTime(0.12, start + 0.02, 0.1);
    gain.gain.setTargetAtTime(0, end - 0.02, 0.02);
    osc.connect(gain).connect(audioContext.destination);
    osc.start(start);
    osc.stop(end + 0.1);
    playing.push(osc);
  }
}

function stopNotes() {
  for (const osc of playing) {
    try { osc.stop(); } catch (e) { /* already stopped */ }
  }
  playing = [];
}

// ------------------------------------------------------------------------------ generate

function request() {
  const number = (id) => Number($(id).value);
  const body = {
    run: $("run").value,
    bars: number("bars"),
    temperature: number("temperature"),
    top_k: number("top_k"),
    top_p: number("top_p"),
    tempo: number("tempo"),
    key: $("key").value || null,
    instrument: $("instrument").value.trim() || "piano",
    seed_notes: $("seed_notes").value.trim() || null,
  };
  if (!$("chords-row").hidden && $("chords").value.trim()) body.chords = $("chords").value.trim();
  if (!$("style-row").hidden && $("style").value) body.style = $("style").value;
  if ($("seed").value !== "") body.seed = number("seed");
  return body;
}

async function generate(event) {
  event.preventDefault();
  const button = $("generate");
  button.disabled = true;
  setStatus("Generating…");
  try {
    const result = await getJSON("/api/generate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request()),
    });
    show(result);
    setStatus(`Done. Random seed ${result.seed}.`);
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function show(result) {
  stopNotes();
  $("result").hidden = false;
  $("summary").textContent = result.summary;
  $("pianoroll").src = result.files.pianoroll;

  const player = $("player");
  player.replaceChildren();
  if (result.files.wav) {
    const audio = document.createElement("audio");
    audio.id = "audio";
    audio.controls = true;
    audio.src = result.files.wav;
    player.append(audio);
  } else {
    const play = document.createElement("button");
    play.id = "play";
    play.type = "button";
    play.textContent = "▶ Play (browser synth)";
    play.addEventListener("click", () => playNotes(result.notes));
    const stop = document.createElement("button");
    stop.type = "button";
    stop.textContent = "■ Stop";
    stop.addEventListener("click", stopNotes);
    const why = document.createElement("p");
    why.className = "hint";
    why.textContent = result.warning ? `No WAV: ${result.warning}` : "";
    player.append(play, " ", stop, why);
  }

  const downloads = $("downloads");
  downloads.replaceChildren("Download: ");
  const files = [["midi", "MIDI"], ["wav", "WAV"], ["musicxml", "MusicXML"]];
  for (const [kind, label] of files) {
    const url = result.files[kind];
    if (!url) continue;
    const link = document.createElement("a");
    link.id = `download-${kind}`;
    link.href = url;
    link.download = url.split("/").pop();
    link.textContent = label;
    downloads.append(link);
  }
}

// ---------------------------------------------------------------------------------- start

$("temperature").addEventListener("input", () => {
  $("temperature-value").textContent = Number($("temperature").value).toFixed(2);
});
$("run").addEventListener("change", showRunInfo);
$("clear-seed").addEventListener("click", () => { $("seed_notes").value = ""; });
$("controls").addEventListener("submit", generate);
buildKeyboard();
loadInstruments().catch(() => {});
loadRuns().catch((error) => setStatus(`Could not list runs: ${error.message}`, true));
