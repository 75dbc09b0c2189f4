"""The ``sketchsynth`` command line: a click group, one module per command.

Errors meant for the user (:class:`~sketchsynth.errors.SketchSynthError`, and
click's own usage errors) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import io
import os
import sys

import click

from .._version import __version__
from ..errors import SketchSynthError, write_failure


def _one_line(text: str) -> str:
    from ..errors import printable

    return " ".join(printable(text).split())


class _Group(click.Group):
    """A click group whose errors are one line: what, where, how to fix."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        prog = prog_name or "sketchsynth"
        # File names that are not UTF-8 arrive as surrogate escapes: print them back as the bytes they were
        # (stdout), or as backslash escapes (stderr), instead of failing in the middle of a report.
        for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
            try:
                stream.reconfigure(errors=errors)
            except (AttributeError, ValueError, io.UnsupportedOperation):
                pass
        try:
            rv = super().main(args=args, prog_name=prog, complete_var=complete_var, standalone_mode=False, **extra)
        except SketchSynthError as e:
            click.echo(f"{prog}: error: {_one_line(e)}", err=True)
            sys.exit(2)
        except click.exceptions.NoArgsIsHelpError as e:  # type: ignore[attr-defined]
            click.echo(e.ctx.get_help() if e.ctx else str(e))
            sys.exit(0)
        except click.UsageError as e:
            cmd = e.ctx.command_path if e.ctx else prog
            hint = f" (see '{cmd} --help')"
            click.echo(f"{cmd}: error: {_one_line(e.format_message())}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as e:
            click.echo(f"{prog}: error: {_one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except click.exceptions.Abort:  # click turns Ctrl-C into Abort: exit as an interrupted program does
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except OSError as e:  # a write the command did not expect to fail: say why in one line
            advice = write_failure(e)
            if advice is None:
                raise
            name = os.fspath(e.filename) if isinstance(getattr(e, "filename", None), (str, os.PathLike)) else ""
            if ".tmp-" in os.path.basename(name):  # a temporary name means nothing to the user: its folder does
                name = os.path.dirname(name)
            where = f" in {_one_line(name)}" if name else ""
            click.echo(f"{prog}: error: cannot write{where}: {advice}", err=True)
            sys.exit(2)
        try:  # a report on a full or closed stdout fails here, not in the interpreter's shutdown
            sys.stdout.flush()
        except OSError as e:
            sys.stdout = open(os.devnull, "w")  # nothing more can reach it; keep the shutdown quiet
            click.echo(f"{prog}: error: cannot write the report to standard output: "
                       f"{write_failure(e) or e.strerror}", err=True)
            sys.exit(2)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


if not hasattr(click.exceptions, "NoArgsIsHelpError"):  # click < 8.2
    click.exceptions.NoArgsIsHelpError = type("NoArgsIsHelpError", (Exception,), {})  # type: ignore


@click.group(name="sketchsynth", cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sketchsynth")
def cli():
    """Concatenative synthesis of talking-face sketches from a frame database.

    \b
    Typical use:
      sketchsynth build-db recordings/ --fps 30       # recordings -> db/default
      sketchsynth match input_json/ --out out/run1    # pick a database frame per input frame
      sketchsynth plot out/run1 --frame 40            # input (black) vs match (blue)
      sketchsynth demo                                # all of it on the bundled example data
    """


def _register():
    from . import (build_db, demo, evaluate, fit_phones, fit_speech, info, live, match, plot, say, serve, stable_points,
                   track)

    for mod in (build_db, match, plot, stable_points, info, demo, track, evaluate, fit_speech, fit_phones, say, live,
                serve):
        cli.add_command(mod.command)


_register()


def main(argv=None):
    """Console-script entry point."""
    cli.main(args=argv, prog_name="sketchsynth")
