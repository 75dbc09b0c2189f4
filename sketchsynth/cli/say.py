import click
command = click.Command("say")
