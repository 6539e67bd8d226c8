//! Framing inside the TLS channel: `u32` big-endian length, then that many bytes: a tag byte
//! and the body. The length counts the tag, so it is at least 1.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Attestation evidence (opaque, from the [`crate::EvidenceSource`]).
pub(crate) const TAG_EVIDENCE: u8 = 1;
/// A caller's payload (dialer to listener only).
pub(crate) const TAG_DATA: u8 = 2;
/// Listener to dialer: `u64` big-endian count of data frames received on this connection.
pub(crate) const TAG_ACK: u8 = 3;

/// Bodies up to this size are copied next to their header so they leave in one TLS record.
const COALESCE: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    Oversize { len: u64, max: u64 },
    #[error("empty frame")]
    Empty,
}

/// The 4-byte length field for a body of `body_len` bytes, or `None` if it does not fit.
fn length_field(body_len: usize) -> Option<[u8; 4]> {
    let len = body_len.checked_add(1)?;
    Some(u32::try_from(len).ok()?.to_be_bytes())
}

pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    tag: u8,
    body: &[u8],
) -> Result<(), FrameError> {
    let len = length_field(body.len()).ok_or(FrameError::Oversize {
        len: body.len() as u64,
        max: u64::from(u32::MAX),
    })?;
    let small = body.len() <= COALESCE;
    let mut buf = Vec::with_capacity(5 + if small { body.len() } else { 0 });
    buf.extend_from_slice(&len);
    buf.push(tag);
    if small {
        buf.extend_from_slice(body);
        w.write_all(&buf).await?;
    } else {
        w.write_all(&buf).await?;
        w.write_all(body).await?;
    }
    w.flush().await?;
    Ok(())
}

/// Reads one frame whose body is at most `max_body` bytes. The buffer grows with the bytes that
/// actually arrive, so a peer that claims a large frame and sends little costs little; a claim
/// above the limit is refused before anything is allocated.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_body: usize,
) -> Result<(u8, Vec<u8>), FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u64::from(u32::from_be_bytes(len));
    let max = (max_body as u64).saturating_add(1);
    if len > max {
        return Err(FrameError::Oversize { len, max });
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let tag = r.read_u8().await?;
    let body_len = len - 1;
    let mut body = Vec::with_capacity(usize::try_from(body_len.min(64 * 1024)).unwrap_or(0));
    let got = (&mut *r).take(body_len).read_to_end(&mut body).await?;
    if got as u64 != body_len {
        return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok((tag, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_pin_the_layout() -> Result<(), FrameError> {
        let mut wire = Vec::new();
        write_frame(&mut wire, TAG_DATA, b"hi").await?;
        // length 3 (tag + 2 bytes), tag 2, body "hi"
        assert_eq!(wire, [0, 0, 0, 3, 2, b'h', b'i']);
        let big = vec![0xabu8; COALESCE + 1];
        write_frame(&mut wire, TAG_EVIDENCE, &big).await?;
        let mut r = wire.as_slice();
        assert_eq!(
            read_frame(&mut r, 1 << 20).await?,
            (TAG_DATA, b"hi".to_vec())
        );
        assert_eq!(read_frame(&mut r, 1 << 20).await?, (TAG_EVIDENCE, big));
        assert!(matches!(
            read_frame(&mut r, 1 << 20).await,
            Err(FrameError::Closed)
        ));
        Ok(())
    }

    #[tokio::test]
    async fn oversize_claim_is_refused_before_reading_the_body() {
        let wire = [0xff, 0xff, 0xff, 0xff, TAG_DATA];
        let got = read_frame(&mut wire.as_slice(), 1024).await;
        assert!(matches!(
            got,
            Err(FrameError::Oversize {
                len: 0xffff_ffff,
                max: 1025
            })
        ));
        let empty = [0, 0, 0, 0];
        assert!(matches!(
            read_frame(&mut empty.as_slice(), 1024).await,
            Err(FrameError::Empty)
        ));
        let short = [0, 0, 0, 9, TAG_DATA, 1, 2];
        assert!(matches!(
            read_frame(&mut short.as_slice(), 1024).await,
            Err(FrameError::Io(_))
        ));
    }
}
