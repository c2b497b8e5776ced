//! Calls with bytes as they are: a codec that sends the request body the test wrote and returns the
//! response body unread, as a hostile or broken client, or a service the proto crate does not know, would.

use prost::bytes::{Buf as _, BufMut as _};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Request, Status};

#[derive(Debug, Clone, Default)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let len = buf.remaining();
        Ok(Some(buf.copy_to_bytes(len).to_vec()))
    }
    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// One unary call of `path` (`/package.Service/Method`) with `body` as its message bytes, and the
/// caller's bearer token when given.
pub async fn call(
    channel: Channel,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = Request::new(body);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .map_err(|_| Status::invalid_argument("token is not a header value"))?,
        );
    }
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path)
        .map_err(|_| Status::invalid_argument("path"))?;
    grpc.unary(request, path, Raw).await.map(|r| r.into_inner())
}
