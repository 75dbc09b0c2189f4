"""sketchsynth say: speak a text and drive the speaker's face with it."""

from __future__ import annotations

import os

import click

from .options import FLOAT, INT, db_option, force_option, resolve_smooth, smoothing_options


@click.command("say")
@click.argument("text")
@db_option
@click.option("--voice", default="en-us", show_default=True, help="espeak-ng voice (en-us, en-gb, en...).")
@click.option("--rate", type=INT, default=175, show_default=True, help="Speaking rate, words per minute (80-450).")
@click.option("--out", "out", type=click.Path(), default=None, help="Output folder (default: out/say).")
@click.option("--audio", type=click.Path(), default=None,
              help="A real recording of TEXT to use instead of the synthetic voice (its phones come from "
                   "aligning it to TEXT).")
@click.option("--rhythm", type=click.Choice(["auto", "database", "voice"]), default="auto", show_default=True,
              help="Phone durations of the synthetic voice inside each word: the database speaker's (from its "
                   "phone labels; the sound is time-warped with them) or the voice's own; auto = the "
                   "speaker's when the phones drive (--target phones or both).")
@click.option("--target", type=click.Choice(["auto", "audio", "phones", "both"]), default="auto",
              show_default=True,
              help="What drives the selection: the sound through the speech model, the spoken phones "
                   "(needs fit-phones), or both; auto = both when the database has both.")
@click.option("--phone-weight", type=FLOAT, default=3.0, show_default=True,
              help="Weight of the phone cost added to the audio target's cost (--target both).")
@click.option("--phone-mouth", type=FLOAT, default=0.3, show_default=True,
              help="--target both: share of the mouth the database shows for the spoken phones (0-1) in the "
                   "mouth target, the rest the speech model's prediction from the sound.")
@click.option("--lle-blend", type=FLOAT, default=None,
              help="LLE projection of the voice's features onto the database's own (0 none ... 1 full); "
                   "default: 0.5 for the TTS voice, the fitted model's rule (as much as the voice differs from "
                   "the database's) for an --audio reading.")
@smoothing_options
@force_option
def command(text, db_path, voice, rate, out, audio, rhythm, target, phone_weight, phone_mouth, lle_blend, smooth,
            candidates, join, jump_cost, beam, force):
    """Say TEXT with the database's speaker's face (needs the 'text' extra).

    The text is spoken offline by espeak-ng; its sound drives the face through
    the database's speech model and/or its phones select frames recorded saying
    the same phones in the same context (triphones, backing off to diphones,
    phones and viseme classes). Words the database's speaker said are spoken
    with the speaker's phones and phone durations (--rhythm). Writes the outputs of `match` -- selection.csv,
    matched/ (in the selected frames' own pixels), a comparison figure,
    sketch.mp4 and frames.mp4 -- with the speech as their sound.

    \b
    Example:
      sketchsynth say "bin blue at f two now" --db db/grid --out out/say
      sketchsynth say "bin blue at f two now" --db db/grid --audio reading.wav --target phones
    """
    import tempfile

    from ..database.frame_database import FrameDatabase
    from ..errors import ParameterError, require
    from ..outputs.synthesis import describe
    from ..pipeline.core import Pipeline
    from ..pipeline.stages import Selector, Writer
    from ..pipeline.text import Speak, TextTarget
    from ..selection.decode import ViterbiDecoder
    from ..targets.text.tts import EXTRA, check_text

    if lle_blend is not None and not 0 <= lle_blend <= 1:
        raise ParameterError(f"--lle-blend must be within 0-1, got {lle_blend}")
    if not (phone_weight >= 0):
        raise ParameterError(f"--phone-weight must be >= 0, got {phone_weight}")
    if not 0 <= phone_mouth <= 1:
        raise ParameterError(f"--phone-mouth must be within 0-1, got {phone_mouth}")
    check_text(text, voice)
    if audio is None:
        require("espeakng_loader", EXTRA, "say (text-to-speech)")
    else:
        require("pocketsphinx", EXTRA, "say --audio (forced alignment)")
    decoder = ViterbiDecoder(smooth=resolve_smooth(smooth, "text"), candidates=candidates, join=join,
                             jump_cost=jump_cost, beam=beam).check()
    db = FrameDatabase.load(db_path)
    decoder.check(db)
    out = out or os.path.join("out", "say")
    with tempfile.TemporaryDirectory(prefix="sketchsynth-say-") as work:
        speak = Speak(work, voice=voice, rate=rate, audio=audio, rhythm=rhythm, target=target)
        text_target = TextTarget(target, phone_weight=phone_weight, lle_blend=lle_blend, phone_mouth=phone_mouth)
        pipe = Pipeline([speak, text_target, Selector(decoder)]).fit(db)
        spoken = pipe.run(text, upto="speech")
        syn = pipe.run(spoken, start="speech")
        extra = {"text": text, "speech": spoken.source, **{k: v for k, v in spoken.extra.items()
                                                             if k != "aligned_words"},
                 "target": syn.params["target"]}
        # a TTS voice exists only in the temporary folder: the output keeps a copy (speech.wav)
        keep = "speech.wav" if spoken.source == "tts" else None
        Writer(out, force=force, audio=spoken.wav_path, sketch_video=True, progress=True, summary_extra=extra,
               keep_audio=keep).fit(db).transform(syn)
    click.echo(f"Said {text!r} ({spoken.duration_s:.2f} s, {'espeak-ng ' + voice if audio is None else audio}); "
               f"target: {syn.params['target']}.")
    for line in describe(db, syn, out):
        if syn.params.get("successors") == 0:  # phone targets: the candidates already hold the successors
            line = line.replace(" + successors", " (phone segments)")
        click.echo(line)
    if syn.params["target"] in ("audio", "both"):
        from ..database.sound import little_sound_warning

        warning = little_sound_warning(db.manifest_)
        if warning:
            click.echo(f"sketchsynth: warning: {warning}", err=True)
