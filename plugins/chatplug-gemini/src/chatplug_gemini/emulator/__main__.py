"""``python -m chatplug_gemini.emulator [--host H] [--port P]``: the emulator, served alone."""

from . import main

main()
