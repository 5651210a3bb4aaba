//! The accept loop: hyper connections serving the axum router, with request counters and
//! fault injection in front of it (a dropped connection must close the socket for real).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::http::{ApiError, AppState, MAX_BODY_BYTES};
use crate::{api, dev};

/// How long a graceful shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .nest(
            "/api",
            api::routes().method_not_allowed_fallback(method_not_allowed),
        )
        .nest(
            "/_dev",
            dev::routes().method_not_allowed_fallback(method_not_allowed),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "The {method} method is not supported for route {}.",
            uri.path()
        ),
    )
}

pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(
                        stream,
                        peer,
                        state.clone(),
                        router.clone(),
                        graceful.watcher(),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period; closing them");
    }
    connections.shutdown().await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: AppState,
    router: Router,
    watcher: Watcher,
) {
    let _ = stream.set_nodelay(true);
    // Keep a second handle on the socket so a `drop_connection` fault can reset it after
    // hyper's connection (which owns the first handle) is dropped.
    let (stream, spare) = match split_handle(stream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "cannot set up connection");
            return;
        }
    };
    let kill = Arc::new(Notify::new());
    let kill_in_service = Arc::clone(&kill);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        handle(
            req,
            peer,
            Arc::clone(&state),
            router.clone(),
            Arc::clone(&kill_in_service),
        )
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = watcher.watch(builder.serve_connection(TokioIo::new(stream), service));
    let killed = tokio::select! {
        result = conn => {
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            false
        }
        () = kill.notified() => true,
    };
    if killed {
        if let Some(spare) = spare
            && let Ok(spare) = TcpStream::from_std(spare)
        {
            // SO_LINGER 0: closing sends RST instead of FIN.
            let _ = spare.set_zero_linger();
        }
        tracing::debug!(%peer, "connection dropped by fault");
    }
}

fn split_handle(stream: TcpStream) -> std::io::Result<(TcpStream, Option<std::net::TcpStream>)> {
    let std_stream = stream.into_std()?;
    let spare = std_stream.try_clone().ok();
    Ok((TcpStream::from_std(std_stream)?, spare))
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    state: AppState,
    router: Router,
    kill: Arc<Notify>,
) -> Result<Response<Body>, Infallible> {
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(ConnectInfo(peer));
    let path = req.uri().path().to_owned();
    // `/_dev` itself is neither counted nor faulted, so tests can always inspect and reset.
    let fault = if path == "/_dev" || path.starts_with("/_dev/") {
        None
    } else {
        state.dev().record(req.method().as_str(), &path)
    };
    let Some(fault) = fault else {
        return router.oneshot(req).await;
    };
    tracing::debug!(%path, "injecting fault");
    if let Some(ms) = fault.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fault.drop_connection {
        kill.notify_one();
        std::future::pending::<()>().await;
    }
    let mut response = if fault.malformed_body {
        let mut r = Response::new(Body::from(r#"{"data": {"id": "01JDW0MALF0RMED", "na"#));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    } else if let Some(status) = fault.status {
        fault_response(status)
    } else {
        router.oneshot(req).await?
    };
    if let Some(secs) = fault.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(response)
}

fn fault_response(status: StatusCode) -> Response<Body> {
    let message = match status.as_u16() {
        429 => "Too Many Attempts.".to_owned(),
        500..=599 => format!("Server Error (injected {status})"),
        _ => format!("Injected fault ({status})"),
    };
    match status.as_u16() {
        200..=299 => (status, axum::Json(serde_json::json!({"message": message}))).into_response(),
        403 => ApiError::forbidden("injected_fault", message).into_response(),
        422 => ApiError::field("fault", message).into_response(),
        _ => ApiError::new(status, message).into_response(),
    }
}
