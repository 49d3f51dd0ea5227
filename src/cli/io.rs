//! Where a command's bytes go and come from: stdout that ends the program quietly on a closed
//! pipe, output files written to a temporary file and renamed into place (never over an input),
//! and inputs checked up front (missing or unreadable files are usage errors) with stdin or a
//! FIFO spooled to a temporary file when a command reads its captures twice.

use super::CliError;
use albscope::capture::STREAM_OPEN_WAIT;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Standard output that ends the program with exit status 0 when the reader went away
/// (`albscope ... | head`), as `grep` and `tshark` do: no panic, no error message.
pub struct Stdout;

fn quiet<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(e) = &result {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
    result
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        quiet(io::stdout().lock().write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        quiet(io::stdout().lock().flush())
    }
}

/// A buffered [`Stdout`].
pub fn stdout() -> BufWriter<Stdout> {
    BufWriter::with_capacity(64 * 1024, Stdout)
}

/// Writes one line to stdout (quietly ending the program on a closed pipe).
pub fn say(line: impl std::fmt::Display) -> Result<(), CliError> {
    let mut out = stdout();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// The file identity (device, inode) of what `path` resolves to, if it exists.
fn identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Refuses an output path that is, or resolves to (symlink, hard link, another spelling), one
/// of the inputs.
pub fn refuse_input_as_output(
    output: &Path,
    inputs: &[PathBuf],
    flag: &str,
) -> Result<(), CliError> {
    if output.as_os_str() == "-" {
        return Ok(());
    }
    let out_id = identity(output);
    let out_canon = std::fs::canonicalize(output).ok();
    for input in inputs.iter().filter(|p| p.as_os_str() != "-") {
        let same_id = out_id.is_some() && out_id == identity(input);
        let same_path = out_canon.is_some() && out_canon == std::fs::canonicalize(input).ok();
        if same_id || same_path {
            return Err(CliError::Usage(format!(
                "{flag} {} is the input {}: refusing to overwrite an input",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Temporary output files to remove if the program is interrupted (SIGINT, SIGTERM, SIGHUP):
/// leaked C strings, so that the signal handler only reads pointers and calls `unlink`.
static PENDING: [std::sync::atomic::AtomicPtr<libc::c_char>; 64] =
    [const { std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()) }; 64];

/// Removes the pending temporary files, then dies of the signal as if unhandled.
extern "C" fn on_interrupt(signal: libc::c_int) {
    for slot in &PENDING {
        let p = slot.swap(std::ptr::null_mut(), std::sync::atomic::Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: `p` is a NUL-terminated string leaked by `remember`; unlink, signal and
            // raise are async-signal-safe.
            unsafe {
                libc::unlink(p);
            }
        }
    }
    // SAFETY: restoring the default action and re-raising is async-signal-safe.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Installs [`on_interrupt`] once.
fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: the handler only touches atomics and async-signal-safe calls.
            unsafe {
                libc::signal(
                    signal,
                    on_interrupt as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t,
                );
            }
        }
    });
}

/// Registers `path` for removal on interrupt; returns its slot (none when all are taken).
fn remember(path: &Path) -> Option<usize> {
    use std::os::unix::ffi::OsStrExt;
    install_interrupt_handler();
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let raw = c.into_raw();
    for (i, slot) in PENDING.iter().enumerate() {
        if slot
            .compare_exchange(
                std::ptr::null_mut(),
                raw,
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
            )
            .is_ok()
        {
            return Some(i);
        }
    }
    // SAFETY: `raw` came from `into_raw` above and was not stored.
    drop(unsafe { std::ffi::CString::from_raw(raw) });
    None
}

/// Forgets a slot taken by [`remember`] (the file was renamed into place or removed).
fn forget(slot: Option<usize>) {
    let Some(p) = slot.and_then(|i| PENDING.get(i)) else {
        return;
    };
    let raw = p.swap(std::ptr::null_mut(), std::sync::atomic::Ordering::SeqCst);
    if !raw.is_null() {
        // SAFETY: `raw` came from `CString::into_raw` in `remember` and is taken once.
        drop(unsafe { std::ffi::CString::from_raw(raw) });
    }
}

/// An output file being written: a temporary file beside the target, renamed over it by
/// [`OutputFile::commit`]. Dropped without commit (error, interrupt), the temporary file is
/// removed and any previous file at the target is left as it was. A target that exists and is
/// not a regular file (`/dev/null`, a FIFO, a terminal) is written directly: renaming over a
/// device would replace it.
pub struct OutputFile {
    target: PathBuf,
    dest: Dest,
    /// Its registration among the files removed on interrupt.
    slot: Registered,
}

/// Where an [`OutputFile`]'s bytes go until it is complete.
enum Dest {
    /// A temporary file beside the target, renamed over it when complete.
    Temp(tempfile::NamedTempFile),
    /// The target itself: a device, FIFO or socket, written as it is.
    Direct(File),
}

/// A temporary file's slot among those removed on interrupt, freed on drop.
#[derive(Default)]
struct Registered(Option<usize>);

impl Drop for Registered {
    fn drop(&mut self) {
        forget(self.0.take());
    }
}

impl OutputFile {
    /// Creates the temporary file for `target` now, so that an unwritable place fails before
    /// any work (`flag` names the option in the message). Refuses a target that is an input.
    pub fn create(target: &Path, inputs: &[PathBuf], flag: &str) -> Result<Self, CliError> {
        refuse_input_as_output(target, inputs, flag)?;
        if target.is_dir() {
            return Err(CliError::Usage(format!(
                "{flag} {}: is a directory",
                target.display()
            )));
        }
        if let Ok(meta) = std::fs::metadata(target) {
            if !meta.is_file() {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(target)
                    .map_err(|e| write_error(target, e))?;
                return Ok(OutputFile {
                    target: target.to_path_buf(),
                    dest: Dest::Direct(file),
                    slot: Registered::default(),
                });
            }
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::temp_in(&dir, target)
    }

    /// A spool for bytes that go to stdout once complete: a new temporary file of its own in
    /// the system's temporary folder (never a fixed name another run or user could hold),
    /// removed when dropped or on interrupt; read it back through [`OutputFile::temp_path`].
    pub fn spool(what: &str) -> Result<Self, CliError> {
        Self::temp_in(&std::env::temp_dir(), Path::new(what))
    }

    /// A new temporary file in `dir` for `target` (named in messages).
    fn temp_in(dir: &Path, target: &Path) -> Result<Self, CliError> {
        let temp = tempfile::Builder::new()
            .prefix(".albscope-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| {
                // tempfile's message names its random file; the OS error is what matters.
                let text = e.to_string();
                let os = text.split(" at path ").next().unwrap_or(&text);
                CliError::Usage(format!("cannot write {}: {os}", target.display()))
            })?;
        let slot = Registered(remember(temp.path()));
        Ok(OutputFile {
            target: target.to_path_buf(),
            dest: Dest::Temp(temp),
            slot,
        })
    }

    /// The path being written (the temporary file, or a device target itself), for writers
    /// that open paths themselves.
    pub fn temp_path(&self) -> &Path {
        match &self.dest {
            Dest::Temp(t) => t.path(),
            Dest::Direct(_) => &self.target,
        }
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut File {
        match &mut self.dest {
            Dest::Temp(t) => t.as_file_mut(),
            Dest::Direct(f) => f,
        }
    }

    /// Renames the finished temporary file over the target. The file gets the target's old
    /// permissions, or rw-r--r-- (less the umask's usual bits) when it is new.
    pub fn commit(mut self) -> Result<(), CliError> {
        drop(std::mem::take(&mut self.slot));
        let temp = match self.dest {
            Dest::Direct(mut f) => {
                return f.flush().map_err(|e| write_error(&self.target, e));
            }
            Dest::Temp(t) => t,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.target)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(0o644);
            let _ = std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(mode));
        }
        let target = self.target.clone();
        temp.persist(&target).map_err(|e| {
            CliError::Usage(format!("cannot write {}: {}", target.display(), e.error))
        })?;
        Ok(())
    }
}

/// Where a report goes: stdout (`-` or no option) or an [`OutputFile`].
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file, renamed into place when complete.
    File(OutputFile),
}

impl Sink {
    /// The sink for an optional `-o` value, created (and checked) before any work.
    pub fn open(path: Option<&Path>, inputs: &[PathBuf], flag: &str) -> Result<Self, CliError> {
        match path {
            None => Ok(Sink::Stdout),
            Some(p) if p.as_os_str() == "-" => Ok(Sink::Stdout),
            Some(p) => OutputFile::create(p, inputs, flag).map(Sink::File),
        }
    }

    /// Whether the bytes go to stdout.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Sink::Stdout)
    }

    /// Writes with `f` into the sink and completes it (flush, rename into place).
    pub fn write_with(
        self,
        f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), CliError> {
        match self {
            Sink::Stdout => {
                let mut w = stdout();
                f(&mut w)?;
                w.flush()?;
                Ok(())
            }
            Sink::File(mut file) => {
                let target = file.target.clone();
                {
                    let mut w = BufWriter::new(file.file());
                    f(&mut w).map_err(|e| write_error(&target, e))?;
                    w.flush().map_err(|e| write_error(&target, e))?;
                }
                file.commit()
            }
        }
    }
}

fn write_error(path: &Path, e: io::Error) -> CliError {
    CliError::Usage(format!("cannot write {}: {e}", path.display()))
}

/// What kind of input a path is, when it is not a regular file.
fn stream_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    (!meta.is_file() && !meta.is_dir()).then_some("not a regular file")
}

/// Checks inputs before any work: a missing or unreadable file (or a folder, unless
/// `folders_ok`) is a usage error naming the OS error; a FIFO or device gets a note on stderr
/// (it is read once, as a stream). Returns which inputs are streams (stdin included).
pub fn check_inputs(paths: &[PathBuf], folders_ok: bool) -> Result<Vec<bool>, CliError> {
    let mut streams = Vec::with_capacity(paths.len());
    let stdin_count = paths.iter().filter(|p| p.as_os_str() == "-").count();
    if stdin_count > 1 {
        return Err(CliError::Usage("`-` (stdin) can be given only once".into()));
    }
    for p in paths {
        if p.as_os_str() == "-" {
            streams.push(true);
            continue;
        }
        let meta =
            std::fs::metadata(p).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            if !folders_ok {
                return Err(CliError::Usage(format!(
                    "{}: is a directory (give capture files)",
                    p.display()
                )));
            }
            streams.push(false);
            continue;
        }
        if let Some(kind) = stream_kind(&meta) {
            eprintln!(
                "albscope: note: {} is {kind}: read once, as a stream",
                p.display()
            );
            streams.push(true);
            continue;
        }
        File::open(p).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?;
        streams.push(false);
    }
    Ok(streams)
}

/// Capture inputs ready to be read, possibly more than once: each is `(name, path)`, where a
/// stream that must be read twice was copied to a temporary file (its name stays as given).
pub struct Inputs {
    /// `(name as given, path to read)`.
    pub named: Vec<(String, PathBuf)>,
    /// True when every input can be read again (files, and streams copied to temporary files).
    pub rereadable: bool,
    /// Temporary copies of streams, removed on drop (and on interrupt).
    _spools: Vec<Spool>,
}

/// A temporary copy of a stream input, registered among the files removed on interrupt from
/// the moment it is created (copying a large stdin takes a while).
struct Spool {
    /// Dropped first: the registration goes before the file.
    _slot: Registered,
    _file: tempfile::NamedTempFile,
}

impl Inputs {
    /// Checks `paths` ([`check_inputs`]); with `several_passes`, copies stdin and FIFOs to
    /// temporary files so that they can be read again, and stdin among several inputs always
    /// (their clock offsets may need a second pass).
    pub fn prepare(paths: &[PathBuf], several_passes: bool) -> Result<Self, CliError> {
        let streams = check_inputs(paths, false)?;
        let mut named = Vec::with_capacity(paths.len());
        let mut spools = Vec::new();
        // Stdin among several inputs is copied too: their clocks may need a second pass
        // (FIFOs are not: one nobody writes to must not hold the others back).
        let spool = |p: &PathBuf, stream: bool| {
            stream && (several_passes || (p.as_os_str() == "-" && paths.len() > 1))
        };
        let rereadable = paths
            .iter()
            .zip(&streams)
            .all(|(p, stream)| !stream || spool(p, *stream));
        for (p, stream) in paths.iter().zip(streams) {
            let name = p.display().to_string();
            if spool(p, stream) {
                let mut spool = tempfile::Builder::new()
                    .prefix("albscope-input-")
                    .tempfile()
                    .map_err(|e| CliError::Usage(format!("cannot spool {name}: {e}")))?;
                let slot = Registered(remember(spool.path()));
                let copied = if p.as_os_str() == "-" {
                    io::copy(&mut io::stdin().lock(), spool.as_file_mut())
                } else {
                    open_stream(p).and_then(|mut f| io::copy(&mut f, spool.as_file_mut()))
                };
                copied.map_err(|e| CliError::Usage(format!("{name}: {e}")))?;
                named.push((name, spool.path().to_path_buf()));
                spools.push(Spool {
                    _slot: slot,
                    _file: spool,
                });
            } else {
                named.push((name, p.clone()));
            }
        }
        Ok(Inputs {
            named,
            rereadable,
            _spools: spools,
        })
    }
}

/// Opens a FIFO or device, waiting at most [`STREAM_OPEN_WAIT`] for a writer (as the capture
/// layer does), so that a FIFO nobody writes to is an error instead of a hang.
fn open_stream(path: &Path) -> io::Result<File> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(File::open(owned));
    });
    rx.recv_timeout(STREAM_OPEN_WAIT).unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "nothing wrote to it within {} s (a FIFO without a writer?)",
                STREAM_OPEN_WAIT.as_secs()
            ),
        ))
    })
}
