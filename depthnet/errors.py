"""The errors a user can cause, each with the exit status the command-line tools give it.

Exit statuses (every tool): 0 ok, 1 some inputs failed (the others were done), 2 usage or bad input,
3 training stopped on a non-finite loss. Library code raises these with a message that says what to
do, in the library's own words (argument names, not flag names); `depthnet.cli.common` prints it as
one `error:` line and exits with `exit_code`.
"""

EXIT_OK = 0
EXIT_SOME_INPUTS_FAILED = 1
EXIT_USAGE = 2
EXIT_NON_FINITE = 3


class DepthNetError(Exception):
    """Base of every expected failure; `exit_code` is what a command-line tool exits with."""

    exit_code = EXIT_USAGE


class InputError(DepthNetError, ValueError):
    """An input the network or a tool cannot take (e.g. an image too small); the message says why."""


class ModelLoadError(DepthNetError, ValueError):
    """A model path that is not a usable SavedModel or training run."""


class NonFiniteLossError(DepthNetError, RuntimeError):
    """A step's loss or gradients became NaN/inf; the weights are left at the last good step."""

    exit_code = EXIT_NON_FINITE


class FolderLockedError(DepthNetError):
    """Another live process holds the folder's lock (depthnet.folder_lock); the message names it."""


class RunConfigError(DepthNetError, ValueError):
    """A run's settings that do not fit its folder (another model, changed hyperparameters on resume)."""


class SaveError(DepthNetError):
    """A file could not be written (a full disk, a read-only folder); what was written before is kept."""
