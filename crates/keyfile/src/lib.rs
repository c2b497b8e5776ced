//! Private key files, written one way for every key Haven keeps on disk (master keys, the audit
//! checkpoint key, the development token key, passport issuer keys).
//!
//! - **Owner-only from the first byte.** A key file is created by `open` with mode 0600 (on Unix), so
//!   there is no moment when it exists with the umask's mode. Directories this crate has to make for
//!   it get mode 0700; directories that exist are left as they are.
//! - **Never half a key.** The bytes go to a staging file beside the key (`.<name>.<pid>.<n>.tmp`),
//!   are synced, and only then get the key's name; the directory is synced after that so the name
//!   survives a crash. A crash before the name is given leaves nothing at the key's path (at most an
//!   owner-only staging file), so the next start makes a whole new key instead of loading a torn one.
//! - **Never overwritten by accident.** [`create`] gives the name with a hard link, which fails when
//!   the name is taken; only [`replace`] renames over an existing file. [`load_or_create`] is what the
//!   embedded default runs at start: several processes starting together on one directory end up
//!   with one key, because the first link wins and the others read what it put there.
//! - **Loose modes are reported, not refused.** [`read`] logs a warning when group or others may read
//!   or write the file, and still returns the key. Refusing would stop deployments that load their
//!   keys today: Kubernetes mounts Secrets with mode 0644 unless told otherwise.
//!
//! Bytes come back in [`Zeroizing`] buffers so the copies made here are wiped when dropped. The crate
//! knows no key format: callers generate, encode and parse.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use zeroize::Zeroizing;

/// What could not be done to which key file. The message names the file, never its contents.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} key file {path}: {source}")]
pub struct KeyFileError {
    /// `inspect`, `read`, `create` or `replace`.
    pub action: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

impl KeyFileError {
    fn new(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> KeyFileError {
        let path = path.to_owned();
        move |source| KeyFileError {
            action,
            path,
            source,
        }
    }

    /// Whether [`create`] found a key already there.
    pub fn already_exists(&self) -> bool {
        self.source.kind() == io::ErrorKind::AlreadyExists
    }
}

/// Reads a key file. Warns, and still loads, when group or others may read or write it.
pub fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let bytes = fs::read(path)
        .map(Zeroizing::new)
        .map_err(KeyFileError::new("read", path))?;
    warn_if_exposed(path);
    Ok(bytes)
}

/// Writes a new key file at `path`, owner-only and atomically. Fails (see
/// [`KeyFileError::already_exists`]) when there is a file at `path` already: a key is never lost to a
/// second `create`.
pub fn create(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    let error = KeyFileError::new("create", path);
    match write(path, bytes, Publish::New) {
        Ok(true) => Ok(()),
        Ok(false) => Err(error(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a key file is already there",
        ))),
        Err(source) => Err(error(source)),
    }
}

/// Writes `bytes` at `path`, owner-only and atomically, replacing any file there: a reader sees the
/// old contents or the new, never a mix.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    write(path, bytes, Publish::Replace)
        .map(drop)
        .map_err(KeyFileError::new("replace", path))
}

/// The key at `path`, or when there is none, the bytes `generate` makes, written there with
/// [`create`]. When another process creates the key first, its key wins and is returned. `generate`
/// runs only when there is no key, so an expensive one (RSA) is not made for nothing.
pub fn load_or_create<E>(
    path: &Path,
    generate: impl FnOnce() -> Result<Zeroizing<Vec<u8>>, E>,
) -> Result<Zeroizing<Vec<u8>>, E>
where
    E: From<KeyFileError>,
{
    // `symlink_metadata`: a dangling link counts as a key that cannot be read, not as no key.
    match fs::symlink_metadata(path) {
        Ok(_) => return Ok(read(path)?),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(KeyFileError::new("inspect", path)(source).into()),
    }
    let bytes = generate()?;
    match write(path, &bytes, Publish::New) {
        Ok(true) => Ok(bytes),
        // Someone else created it between our look and our link: theirs wins.
        Ok(false) => Ok(read(path)?),
        Err(source) => Err(KeyFileError::new("create", path)(source).into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Publish {
    /// Link into place; the name must be free.
    New,
    /// Rename into place over whatever is there.
    Replace,
}

/// Stages, syncs and publishes `bytes` at `path`. `Ok(false)`: `Publish::New` found the name taken.
fn write(path: &Path, bytes: &[u8], how: Publish) -> io::Result<bool> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    create_private_dirs(dir)?;
    let staged = Staged::write(dir, name, bytes)?;
    let published = match how {
        Publish::New => match fs::hard_link(&staged.path, path) {
            Ok(()) => true,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => false,
            Err(error) => return Err(error),
        },
        Publish::Replace => {
            fs::rename(&staged.path, path)?;
            true
        }
    };
    drop(staged);
    if published {
        sync_dir(dir)?;
    }
    Ok(published)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A fully written and synced staging file, removed when dropped (after a link it is only a second
/// name; after a rename it is gone already).
#[derive(Debug)]
struct Staged {
    path: PathBuf,
}

impl Staged {
    fn write(dir: &Path, name: &OsStr, bytes: &[u8]) -> io::Result<Staged> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let mut staging = OsStr::new(".").to_os_string();
            staging.push(name);
            staging.push(format!(
                ".{}.{}.tmp",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let path = dir.join(staging);
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut file = match options.open(&path) {
                Ok(file) => file,
                // Left by a crashed process that had our pid: take the next number.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            };
            let staged = Staged { path };
            file.write_all(bytes)?;
            file.sync_all()?;
            return Ok(staged);
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Best effort: the staging name holds nothing the key's own name does not.
        let _ = fs::remove_file(&self.path);
    }
}

/// Makes a new directory entry durable: a key lost in a crash loses what it protects.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The permission bits group and others hold on the file, if any (always `None` off Unix).
fn exposed_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn warn_if_exposed(path: &Path) {
    if let Some(mode) = exposed_mode(path) {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "key file is readable or writable by group or others; restrict it to mode 0600"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A fresh directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "haven-keyfile-{}-{nanos}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }

        fn entries(&self, dir: &Path) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(self.0.join(dir))
                .expect("list")
                .map(|entry| {
                    entry
                        .expect("entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn key(text: &str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        Ok(Zeroizing::new(text.as_bytes().to_vec()))
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    #[cfg(unix)]
    fn a_new_key_file_is_readable_by_its_owner_only() {
        let dir = TempDir::new();
        let path = dir.0.join("signing.key");
        create(&path, b"secret").expect("create");
        assert_eq!(mode(&path), 0o600);
        let replaced = dir.0.join("replaced.key");
        fs::write(&replaced, b"old").expect("world-readable file");
        replace(&replaced, b"new").expect("replace");
        assert_eq!(mode(&replaced), 0o600, "replace does not keep a loose mode");
    }

    #[test]
    #[cfg(unix)]
    fn missing_directories_are_made_for_the_owner_only_and_existing_ones_are_left_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = TempDir::new();
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = dir.0.join("a").join("b").join("key");
        create(&path, b"secret").expect("create");
        assert_eq!(mode(&dir.0.join("a")), 0o700);
        assert_eq!(mode(&dir.0.join("a").join("b")), 0o700);
        assert_eq!(mode(&dir.0), 0o755);
    }

    #[test]
    fn an_existing_key_is_never_overwritten_by_create() {
        let dir = TempDir::new();
        let path = dir.0.join("key");
        create(&path, b"first").expect("create");
        let error = create(&path, b"second").expect_err("the name is taken");
        assert!(error.already_exists(), "{error}");
        assert_eq!(error.action, "create");
        assert_eq!(*read(&path).expect("read"), b"first");
        assert_eq!(dir.entries(Path::new("")), ["key"], "no staging file left");
    }

    #[test]
    fn replace_puts_the_whole_new_key_in_place() {
        let dir = TempDir::new();
        let path = dir.0.join("key");
        replace(&path, b"first").expect("replace creates");
        replace(&path, b"second").expect("replace overwrites");
        assert_eq!(*read(&path).expect("read"), b"second");
        assert_eq!(dir.entries(Path::new("")), ["key"], "no staging file left");
    }

    #[test]
    fn load_or_create_makes_a_key_once_and_then_loads_it_without_generating() {
        let dir = TempDir::new();
        let path = dir.0.join("keys").join("key");
        let made = load_or_create(&path, || key("generated")).expect("create");
        assert_eq!(*made, b"generated");
        let generated_again = Cell::new(false);
        let loaded = load_or_create(&path, || {
            generated_again.set(true);
            key("another")
        })
        .expect("load");
        assert_eq!(*loaded, b"generated");
        assert!(
            !generated_again.get(),
            "generate runs only when there is no key"
        );
        assert_eq!(dir.entries(Path::new("keys")), ["key"]);
    }

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        let dir = TempDir::new();
        let path = dir.0.join("key");
        let keys: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let path = &path;
                    scope.spawn(move || {
                        load_or_create(path, || key(&format!("key-{i}")))
                            .expect("load or create")
                            .to_vec()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("thread"))
                .collect()
        });
        assert!(keys.windows(2).all(|pair| pair[0] == pair[1]), "{keys:?}");
        assert_eq!(*read(&path).expect("read"), keys[0][..]);
        assert_eq!(dir.entries(Path::new("")), ["key"], "no staging file left");
    }

    #[test]
    fn a_crash_between_write_and_rename_leaves_no_partial_key() {
        let dir = TempDir::new();
        let path = dir.0.join("key");
        // The process dies after staging the key and before giving it its name: nothing runs the
        // staging file's cleanup.
        let staged = Staged::write(&dir.0, OsStr::new("key"), b"half a k").expect("stage");
        std::mem::forget(staged);
        assert!(
            !path.exists(),
            "nothing is at the key's name until it is whole"
        );
        // The next start makes a whole key and never loads the staged bytes.
        let made = load_or_create(&path, || key("a whole key")).expect("create");
        assert_eq!(*made, b"a whole key");
        assert_eq!(*read(&path).expect("read"), b"a whole key");
    }

    #[test]
    fn a_failed_generation_writes_nothing() {
        let dir = TempDir::new();
        let path = dir.0.join("keys").join("key");
        let error = load_or_create(&path, || {
            Err(KeyFileError::new("create", &path)(io::Error::other(
                "no randomness",
            )))
        })
        .expect_err("generation failed");
        assert!(error.to_string().contains("no randomness"));
        assert!(!path.exists());
    }

    #[test]
    fn a_key_file_open_to_others_still_loads_and_is_flagged() {
        let dir = TempDir::new();
        let path = dir.0.join("mounted-secret.key");
        fs::write(&path, b"secret").expect("write with the umask's mode");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
            assert_eq!(exposed_mode(&path), Some(0o644));
        }
        assert_eq!(*read(&path).expect("loads anyway"), b"secret");
        let private = dir.0.join("private.key");
        create(&private, b"secret").expect("create");
        assert_eq!(exposed_mode(&private), None);
    }

    #[test]
    fn errors_name_the_file_and_the_action_but_not_the_contents() {
        let dir = TempDir::new();
        let missing = dir.0.join("absent.key");
        let error = read(&missing).expect_err("missing");
        assert_eq!(error.action, "read");
        assert_eq!(error.source.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("absent.key"), "{error}");
        let error = create(&dir.0, b"SECRETISH").expect_err("a directory is no key file");
        assert!(!error.to_string().contains("SECRETISH"), "{error}");
    }
}
