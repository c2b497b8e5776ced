//! The codec every generated Haven client and server uses: protobuf through prost, with one change. A
//! request body that does not decode (garbage bytes, a truncated varint, invalid UTF-8 in a string, a
//! wrong wire type, nesting past prost's recursion limit) is the client's mistake and answers
//! INVALID_ARGUMENT, where prost's stock codec answers INTERNAL. The message names the expected type,
//! never the bytes.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstDecoder, ProstEncoder};

/// tonic-prost-build's `codec_path` points here (proto/build.rs).
#[derive(Debug, Clone)]
pub struct HavenCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for HavenCodec<T, U> {
    fn default() -> Self {
        HavenCodec {
            _types: PhantomData,
        }
    }
}

impl<T, U> Codec for HavenCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = HavenDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        HavenDecoder(ProstDecoder::new(BufferSettings::default()))
    }
}

/// prost's decoder with decode errors answered as INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct HavenDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default> Decoder for HavenDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|status| {
            if status.code() == tonic::Code::Internal {
                Status::invalid_argument(format!(
                    "the message is not a valid {}",
                    short_type_name::<U>()
                ))
            } else {
                status
            }
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// `haven_proto::haven::identity::v1::GetChildRequest` -> `GetChildRequest`.
fn short_type_name<U>() -> &'static str {
    let full = std::any::type_name::<U>();
    full.rsplit("::").next().unwrap_or(full)
}
