"""The option names Asterisk 22 documents for each pjsip.conf object type (issue 15).

Names only, looked up in Asterisk's configuration documentation (the
"Module Configuration" pages on docs.asterisk.org, generated from the
``configInfo`` documentation of res_pjsip — res/res_pjsip/pjsip_config.xml
in asterisk/asterisk, a version carrying 22.x ``since`` tags — of
res_pjsip_endpoint_identifier_ip and of res_pjsip_outbound_registration,
with the OutboundRegistrationDetail AMI event for the registration fields).
A name missing here that Asterisk 22 does document may be added, with the
page it came from; a misspelt name must never be.
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


ENDPOINT = _names(
    """
    100rel accept_multiple_sdp_answers accountcode acl aggregate_mwi allow allow_overlap
    allow_subscribe allow_transfer allow_unauthenticated_options aors asymmetric_rtp_codec
    auth bind_rtp_to_media_address bundle call_group callerid callerid_privacy callerid_tag
    codec_prefs_incoming_answer codec_prefs_incoming_offer codec_prefs_outgoing_answer
    codec_prefs_outgoing_offer connected_line_method contact_acl contact_deny contact_permit
    contact_user context cos_audio cos_video deny device_state_busy_at direct_media
    direct_media_glare_mitigation direct_media_method disable_direct_media_on_nat disallow
    dtls_auto_generate_cert dtls_ca_file dtls_ca_path dtls_cert_file dtls_cipher
    dtls_fingerprint dtls_private_key dtls_rekey dtls_setup dtls_verify dtmf_mode fax_detect
    fax_detect_timeout follow_early_media_fork force_avp force_rport from_domain from_user
    g726_non_standard geoloc_incoming_call_profile geoloc_outgoing_call_profile ice_support
    identify_by ignore_183_without_sdp inband_progress incoming_mwi_mailbox language
    mailboxes max_audio_streams max_video_streams media_address media_encryption
    media_encryption_optimistic media_use_received_transport message_context moh_passthrough
    moh_suggest mwi_from_user mwi_subscribe_replaces_unsolicited named_call_group
    named_pickup_group notify_early_inuse_ringing one_touch_recording outbound_auth
    outbound_proxy overlap_context permit pickup_group preferred_codec_only
    record_off_feature record_on_feature redirect_method refer_blind_progress
    rewrite_contact rpid_immediate rtcp_mux rtp_engine rtp_ipv6 rtp_keepalive rtp_symmetric
    rtp_timeout rtp_timeout_hold sdp_owner sdp_session security_mechanisms
    security_negotiation send_aoc send_connected_line send_diversion send_history_info
    send_pai send_rpid set_var srtp_tag_32 stir_shaken stir_shaken_profile sub_min_expiry
    subscribe_context suppress_moh_on_sendonly suppress_q850_reason_headers
    t38_bind_udptl_to_media_address
    t38_udptl t38_udptl_ec t38_udptl_ipv6 t38_udptl_maxdatagram t38_udptl_nat tenantid
    timers timers_min_se timers_sess_expires tone_zone tos_audio tos_video transport
    trust_connected_line trust_id_inbound trust_id_outbound type use_avpf use_ptime
    user_eq_phone voicemail_extension webrtc
    """
)

AUTH = _names(
    """
    auth_type md5_cred nonce_lifetime oauth_clientid oauth_secret password password_digest
    realm refresh_token supported_algorithms_uac supported_algorithms_uas type username
    """
)

AOR = _names(
    """
    authenticate_qualify contact default_expiration mailboxes max_contacts
    maximum_expiration minimum_expiration outbound_proxy qualify_2xx_only qualify_frequency
    qualify_timeout remove_existing remove_unavailable support_path type voicemail_extension
    """
)

CONTACT = _names(
    """
    authenticate_qualify call_id endpoint expiration_time outbound_proxy path prune_on_boot
    qualify_2xx_only qualify_frequency qualify_timeout reg_server type uri user_agent
    via_addr via_port
    """
)

TRANSPORT = _names(
    """
    allow_reload allow_wildcard_certs async_operations bind ca_list_file ca_list_path
    cert_file cipher cos domain external_media_address external_signaling_address
    external_signaling_port local_net method password priv_key_file protocol
    require_client_cert symmetric_transport tcp_keepalive_enable tcp_keepalive_idle_time
    tcp_keepalive_interval_time tcp_keepalive_probe_count tos type verify_client
    verify_server websocket_write_timeout
    """
)

IDENTIFY = _names("endpoint match match_header srv_lookups type")

REGISTRATION = _names(
    """
    auth_rejection_permanent client_uri contact_header_params contact_user endpoint
    expiration fatal_retry_interval forbidden_retry_interval line max_random_initial_delay
    max_retries outbound_auth outbound_proxy retry_interval security_negotiation server_uri
    support_outbound support_path transport type
    """
)

DOMAIN_ALIAS = _names("domain type")

BY_TYPE: dict[str, frozenset[str]] = {
    "endpoint": ENDPOINT,
    "auth": AUTH,
    "aor": AOR,
    "contact": CONTACT,
    "transport": TRANSPORT,
    "identify": IDENTIFY,
    "registration": REGISTRATION,
    "domain_alias": DOMAIN_ALIAS,
}

# auth_type values: "digest" (the default); "userpass" and "md5" are documented
# as deprecated (converted to digest), "google_oauth" needs OAuth parameters.
AUTH_TYPES = frozenset({"digest", "google_oauth"})
DEPRECATED_AUTH_TYPES = frozenset({"userpass", "md5"})
TRANSPORT_PROTOCOLS = frozenset({"udp", "tcp", "tls", "ws", "wss", "flow"})
DTMF_MODES = frozenset({"rfc4733", "inband", "info", "auto", "auto_info"})
