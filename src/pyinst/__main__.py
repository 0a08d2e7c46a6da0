from pyinst.cli import run

run()
