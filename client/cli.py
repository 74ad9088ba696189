"""The `uapi` command: call a tokend UAPI function and print the whole UAPI response.

    uapi [--user=NAME] [--output=yaml|json|jsonpretty|xml] [--socket=PATH] [--stdin=KEY]
         Module function [key=value ...]

The command translates its arguments into one JSON-RPC call and has no code for any single
function. It leaves every check of the parameters to the daemon, so that users see the
daemon's own error for a misspelled or missing parameter.
"""

from __future__ import annotations

import getopt
import os
import sys

from . import jsonrpc, output, protocol
from .client import Client
from .errors import DaemonUnavailable, ProtocolError

# mypy treats a name TYPE_CHECKING as true wherever it comes from. Importing `typing` at run
# time would slow the command's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .functions import Function

PROGRAM = "uapi"
API_VERSION = 3

EXIT_OK = 0
EXIT_FAILED = 1
"""The function failed (status 0), or the daemon returned a JSON-RPC error."""
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69
"""The daemon cannot be reached (EX_UNAVAILABLE in BSD's sysexits.h)."""
EXIT_INTERRUPTED = 130

USAGE = (
    f"usage: {PROGRAM} [--user=NAME] [--output=yaml|json|jsonpretty|xml] [--socket=PATH]\n"
    "            [--stdin=KEY] Module function [key=value ...]"
)

MAX_STDIN_VALUE_BYTES = 64 * 1024
"""The maximum length, in bytes, of a value read by --stdin. A token is 32 bytes."""

HELP = f"""\
{USAGE}

Call a UAPI function of the tokend daemon and print the whole UAPI response
{{{{apiversion, func, module, result}}}}.

Arguments after the function are key=value pairs. Keys and values are
percent-decoded (%2D is -, %3D is =, and + stays +). Only the first = of an
argument separates key and value. Repeat a key (name=a name=b) to send a list,
or number it (name-0=a name-1=b) as UAPI does.

options:
  --user=NAME      act on this account's tokens (sends {protocol.API_USER}); only
                   root may name an account other than its own
  --output=FORMAT  output format: yaml (default), json, jsonpretty or xml
  --socket=PATH    the daemon's socket (default: ${protocol.ENV_SOCKET}, else
                   {{default_socket}})
  --stdin=KEY      read the value of parameter KEY from standard input: one
                   line, without its newline and without percent-decoding (on
                   a terminal, without echo). Use it for a secret such as
                   token=, because every local account can read a command's
                   arguments
  -h, --help       show this help, or after a module or function its parameters

modules:
  {protocol.MODULE}  run '{PROGRAM} {protocol.MODULE} --help' for its functions and parameters

exit status:
  {EXIT_OK}   the function succeeded (status 1)
  {EXIT_FAILED}   the function failed (status 0; the errors are in the output), or the
      daemon returned a JSON-RPC error (printed on stderr)
  {EXIT_USAGE}   invalid command line
  {EXIT_UNAVAILABLE}  the daemon cannot be reached
"""

Params = dict[str, str | list[str]]


class UsageError(Exception):
    """The command line is invalid; the message names the argument and the problem."""


class CommandLine:
    """The parsed command line of `uapi`."""

    def __init__(self) -> None:
        self.help = False
        self.user: str | None = None
        self.output_format = output.DEFAULT_FORMAT
        self.socket_path: str | None = None
        self.stdin_key: str | None = None
        self.module: str | None = None
        self.function: str | None = None
        self.arguments: list[str] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: `sys.argv[1:]`) and return its exit status.

    Every failure becomes one line on stderr and an exit status here, never a traceback.
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run(arguments)
    except UsageError as error:
        _report(f"{error}. Run '{PROGRAM} --help' for usage")
        return EXIT_USAGE
    except DaemonUnavailable as error:
        _report(str(error))
        return EXIT_UNAVAILABLE
    except ProtocolError as error:
        return _report_protocol_error(error)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _run(arguments: list[str]) -> int:
    command_line = parse_command_line(arguments)
    if command_line.help:
        _write(_help_text(command_line.module, command_line.function))
        return EXIT_OK
    module = command_line.module
    function = command_line.function
    if module is None or function is None:
        raise UsageError("missing Module and function, such as 'Tokens list'")

    params = parse_params(command_line.arguments)
    if command_line.stdin_key is not None:
        key = command_line.stdin_key
        if key in params:
            raise UsageError(f"{key} is given both with --stdin and as an argument. Give it once")
        params[key] = read_stdin_value(key)
    if command_line.user is not None:
        if protocol.API_USER in params:
            raise UsageError(f"give the account with --user or with {protocol.API_USER}=, not both")
        params[protocol.API_USER] = command_line.user

    method = protocol.method_name(function, module)
    reply = Client(command_line.socket_path).call(method, params)
    result = jsonrpc.expect_uapi_result(method, reply)
    document = {"apiversion": API_VERSION, "func": function, "module": module, "result": result}
    _write(output.render(document, command_line.output_format))
    return EXIT_OK if result["status"] == 1 else EXIT_FAILED


def parse_command_line(arguments: Sequence[str]) -> CommandLine:
    """Parse the flags and the positional arguments; raise UsageError if they are invalid.

    Flags may stand anywhere, as GNU tools allow, and `--` ends them. The command uses
    getopt because argparse, through its help formatter, imports `shutil` and `locale`,
    which made every call slower by about a third of Python's own start-up.
    """
    try:
        flags, positionals = getopt.gnu_getopt(
            list(arguments), "h", ["help", "user=", "output=", "socket=", "stdin="]
        )
    except getopt.GetoptError as error:
        raise UsageError(str(error)) from None

    command_line = CommandLine()
    for flag, value in flags:
        if flag in ("-h", "--help"):
            command_line.help = True
        elif not value:
            raise UsageError(f"{flag} needs a value")
        elif flag == "--output":
            if value not in output.FORMATS:
                expected = ", ".join(output.FORMATS)
                raise UsageError(f"unknown output format {value!r}; expected one of {expected}")
            command_line.output_format = value
        elif flag == "--user":
            command_line.user = value
        elif flag == "--stdin":
            if command_line.stdin_key is not None:
                raise UsageError("--stdin may be given only once")
            command_line.stdin_key = value
        else:
            command_line.socket_path = value

    if positionals:
        command_line.module = positionals[0]
    if len(positionals) > 1:
        command_line.function = positionals[1]
    command_line.arguments = positionals[2:]
    return command_line


def parse_params(arguments: Sequence[str]) -> Params:
    """Turn `key=value` arguments into a params object for the JSON-RPC call.

    Keys and values are percent-decoded separately after splitting at the first `=`, so
    `%3D` in a key and any `=` in a value survive. A repeated key makes a list in the
    order given. `key-0`, `key-1`, ... pass through as they are, because the daemon reads
    them as a list itself. Raises UsageError for an argument without `=`, with an empty
    key, or that is not UTF-8.
    """
    params: Params = {}
    for argument in arguments:
        key_text, separator, value_text = argument.partition("=")
        if not separator:
            raise UsageError(f"argument {argument!r} is not of the form key=value")
        key = _percent_decode(key_text, argument)
        value = _percent_decode(value_text, argument)
        if not key:
            raise UsageError(f"argument {argument!r} has an empty key")
        previous = params.get(key)
        if previous is None:
            params[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            params[key] = [previous, value]
    return params


def read_stdin_value(key: str) -> str:
    """Read the value of parameter `key` as one line of standard input, without its newline.

    A trailing "\n" or "\r\n" is removed and nothing else, so that stray spaces reach the
    daemon and fail there visibly. On a terminal the line is read without echo. Raises
    UsageError when the input is empty, longer than MAX_STDIN_VALUE_BYTES or not UTF-8.
    """
    if sys.stdin.isatty():
        # getpass is imported only here, because most calls read nothing from stdin.
        from getpass import getpass

        try:
            return getpass(f"{key}: ")
        except EOFError:
            raise UsageError(f"--stdin={key}: input ended before a value was entered") from None

    line = sys.stdin.buffer.readline(MAX_STDIN_VALUE_BYTES + 1)
    if not line:
        raise UsageError(f"--stdin={key}: standard input is empty, so there is no value to send")
    value = line
    if value.endswith(b"\n"):
        value = value[:-1].removesuffix(b"\r")
    if len(value) > MAX_STDIN_VALUE_BYTES:
        raise UsageError(f"--stdin={key}: the value is longer than {MAX_STDIN_VALUE_BYTES} bytes")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--stdin={key}: the value is not valid UTF-8") from None


def _percent_decode(text: str, argument: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Python keeps command-line bytes that are not UTF-8 as lone surrogates.
        raise UsageError(f"argument {argument!r} is not valid UTF-8") from None
    if "%" not in text:
        return text

    # urllib.parse is imported only here, because most arguments need no decoding.
    from urllib.parse import unquote_to_bytes

    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"argument {argument!r} is not valid UTF-8 after percent-decoding"
        ) from None


def _help_text(module: str | None, function: str | None) -> str:
    if module is None:
        return HELP.format(default_socket=_default_socket_text())
    if module != protocol.MODULE:
        raise UsageError(f"unknown module {module!r}: tokend provides only {protocol.MODULE}")

    functions = protocol.FUNCTIONS
    if function is None:
        header = f"Functions of the {module} module ({PROGRAM} {module} FUNCTION [key=value ...]):"
        return "\n\n".join([header, *(_describe_function(f) for f in functions.values())]) + "\n"
    if function not in functions:
        known = ", ".join(functions)
        raise UsageError(f"unknown function {function!r} of {module}; expected one of {known}")
    return _describe_function(functions[function]) + "\n"


def _describe_function(function: Function) -> str:
    lines = [f"{function.name}: {function.summary}"]
    for param in (*function.params, *function.generic_params):
        notes = []
        if param.required:
            notes.append("required")
        if param.repeatable:
            notes.append("repeatable")
        label = f"{param.name} ({', '.join(notes)})" if notes else param.name
        lines.append(f"  {label:<28} {param.description}")
    if len(lines) == 1:
        lines.append("  (no parameters)")
    return "\n".join(lines)


def _report_protocol_error(error: ProtocolError) -> int:
    if error.code == protocol.METHOD_NOT_FOUND:
        _report(f"{error}. Run '{PROGRAM} {protocol.MODULE} --help' for the functions")
        return EXIT_USAGE
    return report_protocol_error(PROGRAM, error)


def _default_socket_text() -> str:
    personal = protocol.default_socket_path()
    if personal == protocol.ROOT_SOCKET_PATH:
        return personal
    return f"{personal} when this account runs its own daemon, else {protocol.ROOT_SOCKET_PATH}"


def report_protocol_error(program: str, error: ProtocolError) -> int:
    """Print a JSON-RPC error as one line on stderr and return the exit status for it."""
    if error.code == protocol.SERVER_SHUTTING_DOWN:
        report(program, f"the daemon is shutting down ({error}). Try again once it has restarted")
        return EXIT_UNAVAILABLE
    report(program, f"the daemon returned an error: {error}")
    return EXIT_FAILED


def report(program: str, message: str) -> None:
    """Print `message` on stderr as one line prefixed with the program's name."""
    one_line = " ".join(message.split())
    print(f"{program}: {one_line}", file=sys.stderr)


def _report(message: str) -> None:
    report(PROGRAM, message)


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (such as `head`) closed the pipe. Point stdout at /dev/null so that
        # Python's flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
